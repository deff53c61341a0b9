"""Fetching an address that staff typed (a calendar's .ics URL) without letting it reach the
server's own network.

Without a check, "import my calendar from http://169.254.169.254/…" reads the cloud metadata
service, and 127.0.0.1 or 10.x reach the database, the worker's admin ports or the rest of the
private network (server-side request forgery, OWASP A10:2021). Every connection, including
each redirect, resolves the host once, refuses it if any of its addresses is not on the public
internet, and then connects to the address it checked, so a DNS answer that changes between
the check and the connection (DNS rebinding) cannot swap in a private one.

`TILLBOOK_FETCH_PRIVATE_ADDRESSES` switches the check off for installations whose calendars
live on their own network (and for tests with a local server).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import urllib.request
from typing import IO, Any
from urllib.parse import urlsplit

from django.conf import settings

from tillbook.core.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Addresses of 64:ff9b::/96 carry an IPv4 address for a NAT64 gateway (RFC 6052).
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class FetchRefused(InvalidInput):
    """The address is not one Tillbook fetches; the message says why."""


def address_is_public(address: IPAddress) -> bool:
    """True only for a unicast address on the public internet.

    IPv6 forms that carry an IPv4 address (::ffff:a.b.c.d, 6to4, NAT64) are judged by the IPv4
    address inside, so ::ffff:127.0.0.1 is loopback like 127.0.0.1.
    """
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour
        if inner is None and address in _NAT64:
            inner = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if inner is not None:
            return address_is_public(inner)
    return address.is_global and not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def _resolve(host: str, port: int) -> list[tuple[socket.AddressFamily, str]]:
    """Every address the host name stands for, in the resolver's order."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise FetchRefused(f"{host} could not be found ({error}).") from error
    return [(family, str(sockaddr[0])) for family, _, _, _, sockaddr in found]


def public_addresses(host: str, port: int) -> list[str]:
    """The host's addresses, or FetchRefused if any of them is private, local or reserved.

    One private address among public ones is enough to refuse: the connection could go to any.
    """
    addresses = [address for _, address in _resolve(host, port)]
    for text in addresses:
        # A scoped IPv6 address (fe80::1%eth0) is link-local whatever its zone.
        if not address_is_public(ipaddress.ip_address(text.split("%", 1)[0])):
            where = host if text == host else f"{host} points to {text}, which"
            raise FetchRefused(
                f"{where} is a private or local network address; Tillbook only fetches "
                "addresses on the public internet."
            )
    if not addresses:
        raise FetchRefused(f"{host} could not be found.")
    return addresses


def _connect_checked(
    address: tuple[str, int],
    timeout: float | None = None,
    source_address: tuple[str, int] | None = None,
    **options: Any,
) -> socket.socket:
    """socket.create_connection, but only to the addresses that were checked."""
    host, port = address
    if settings.TILLBOOK_FETCH_PRIVATE_ADDRESSES:
        return socket.create_connection(address, timeout, source_address)
    last_error: OSError | None = None
    for checked in public_addresses(host, port):
        try:
            # A literal address: create_connection resolves nothing further.
            return socket.create_connection((checked, port), timeout, source_address)
        except OSError as error:
            last_error = error
    assert last_error is not None  # noqa: S101 - public_addresses never returns an empty list
    raise last_error


class _CheckedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _connect_checked


class _CheckedHTTPSConnection(http.client.HTTPSConnection):
    # TLS still verifies the certificate against the host name, not the checked address.
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _connect_checked


class _CheckedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_CheckedHTTPConnection, req)


class _CheckedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(context=self.tls)

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_CheckedHTTPSConnection, req, context=self.tls)


class _CheckedRedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follows redirects to http(s) only, and says so when one points at a private network
    (the connection would refuse it anyway; this gives staff the reason)."""

    max_redirections = 5

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        parts = urlsplit(newurl)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchRefused(f"The address redirected to {newurl}, which is not http(s).")
        if not settings.TILLBOOK_FETCH_PRIVATE_ADDRESSES:
            try:
                port = parts.port or (443 if parts.scheme == "https" else 80)
                public_addresses(parts.hostname, port)
            except FetchRefused as refused:
                raise FetchRefused(f"The address redirected to {newurl}: {refused}") from None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener() -> urllib.request.OpenerDirector:
    # Built by hand rather than with build_opener, which would add file://, ftp:// and data:
    # handlers and the environment's proxies (the check must see the real destination).
    opener = urllib.request.OpenerDirector()
    for handler in (
        _CheckedHTTPHandler(),
        _CheckedHTTPSHandler(),
        _CheckedRedirectHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
        urllib.request.UnknownHandler(),
    ):
        opener.add_handler(handler)
    return opener


def fetch_public_url(url: str, *, max_bytes: int, timeout: float, user_agent: str) -> bytes:
    """The body at `url`, at most `max_bytes` long.

    Raises FetchRefused for addresses Tillbook does not fetch, InvalidInput for a body that is
    too large, and OSError (urllib's URLError, HTTPError, timeouts) when the fetch fails.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchRefused("Only http:// and https:// addresses can be fetched.")
    request = urllib.request.Request(url, headers={"User-Agent": user_agent})  # noqa: S310
    with _opener().open(request, timeout=timeout) as response:
        data: bytes = response.read(max_bytes + 1)
    if len(data) > max_bytes:
        megabytes, rest = divmod(max_bytes, 1024 * 1024)
        limit = f"{megabytes} MB" if megabytes and not rest else f"{max_bytes} bytes"
        raise InvalidInput(f"The file at {url} is larger than {limit}.")
    return data
