"""Fetching staff-given addresses: nothing on the server's own network is reachable."""

from __future__ import annotations

import http.server
import ipaddress
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tillbook.core import fetch
from tillbook.core.errors import InvalidInput
from tillbook.core.fetch import FetchRefused, address_is_public, fetch_public_url

REFUSED = (
    "a private or local network address; Tillbook only fetches addresses on the public internet."
)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata service
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",  # noqa: S104
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "2002:7f00:1::1",  # 6to4 around 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 around 169.254.169.254
        "2001:db8::1",
    ],
)
def test_private_and_local_addresses_are_not_public(address: str) -> None:
    assert address_is_public(ipaddress.ip_address(address)) is False


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "64:ff9b::808:808"]
)
def test_internet_addresses_are_public(address: str) -> None:
    assert address_is_public(ipaddress.ip_address(address)) is True


class Server:
    def __init__(self, host: str, answer: Callable[[http.server.BaseHTTPRequestHandler], None]):
        self.requests: list[str] = []
        served = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                served.requests.append(self.path)
                answer(self)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.HTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(host: str, answer: Callable[[http.server.BaseHTTPRequestHandler], None]) -> Server:
        started.append(Server(host, answer))
        return started[-1]

    yield start
    for server in started:
        server.server.shutdown()
        server.server.server_close()


def calendar(handler: http.server.BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.end_headers()
    handler.wfile.write(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")


def redirect_to(location: str) -> Callable[[http.server.BaseHTTPRequestHandler], None]:
    def answer(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.end_headers()

    return answer


@pytest.fixture
def first_server_is_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stand 127.0.0.1 in for a server on the internet; every other address is judged as usual
    (so 127.0.0.2, also on this machine, stays private)."""
    judge = fetch.address_is_public
    monkeypatch.setattr(
        fetch, "address_is_public", lambda address: str(address) == "127.0.0.1" or judge(address)
    )


def get(url: str, max_bytes: int = 1000) -> bytes:
    return fetch_public_url(url, max_bytes=max_bytes, timeout=5, user_agent="test")


def test_a_local_address_is_refused_before_connecting(serve: Callable[..., Server]) -> None:
    server = serve("127.0.0.1", calendar)
    with pytest.raises(FetchRefused) as refused:
        get(f"{server.url}/me.ics")
    assert refused.value.message == f"127.0.0.1 is {REFUSED}"
    assert server.requests == []


def test_the_setting_lets_an_installation_fetch_from_its_own_network(
    serve: Callable[..., Server], settings: Any
) -> None:
    settings.TILLBOOK_FETCH_PRIVATE_ADDRESSES = True
    server = serve("127.0.0.1", calendar)
    assert get(f"{server.url}/me.ics") == b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"


def test_a_public_server_answering_normally_is_fetched(
    serve: Callable[..., Server], first_server_is_public: None
) -> None:
    server = serve("127.0.0.1", calendar)
    assert get(f"{server.url}/me.ics") == b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    assert server.requests == ["/me.ics"]


def test_a_redirect_to_a_private_address_is_refused(
    serve: Callable[..., Server], first_server_is_public: None
) -> None:
    internal = serve("127.0.0.2", calendar)
    public = serve("127.0.0.1", redirect_to(f"{internal.url}/secret"))

    with pytest.raises(FetchRefused) as refused:
        get(f"{public.url}/me.ics")

    assert refused.value.message == (
        f"The address redirected to {internal.url}/secret: 127.0.0.2 is {REFUSED}"
    )
    assert public.requests == ["/me.ics"]
    assert internal.requests == []


def test_a_redirect_to_another_scheme_is_refused(
    serve: Callable[..., Server], first_server_is_public: None
) -> None:
    public = serve("127.0.0.1", redirect_to("ftp://10.0.0.1/me.ics"))
    with pytest.raises(FetchRefused) as refused:
        get(f"{public.url}/me.ics")
    assert refused.value.message == (
        "The address redirected to ftp://10.0.0.1/me.ics, which is not http(s)."
    )


def test_a_redirect_to_a_file_is_refused_by_urllib_itself(
    serve: Callable[..., Server], first_server_is_public: None
) -> None:
    public = serve("127.0.0.1", redirect_to("file:///etc/passwd"))
    with pytest.raises(OSError, match="Redirection to url 'file:///etc/passwd' is not allowed"):
        get(f"{public.url}/me.ics")


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://10.0.0.1/me.ics", "gopher://127.0.0.1/", "http:///x"]
)
def test_only_http_addresses_are_fetched(url: str) -> None:
    with pytest.raises(FetchRefused) as refused:
        get(url)
    assert refused.value.message == "Only http:// and https:// addresses can be fetched."


def test_a_name_with_one_private_address_among_public_ones_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = [(socket.AF_INET, "93.184.215.14"), (socket.AF_INET, "10.0.0.5")]
    monkeypatch.setattr(fetch, "_resolve", lambda host, port: answers)
    with pytest.raises(FetchRefused) as refused:
        get("https://calendar.example/me.ics")
    assert refused.value.message == f"calendar.example points to 10.0.0.5, which is {REFUSED}"


def test_the_connection_goes_to_the_address_that_was_checked(
    serve: Callable[..., Server], first_server_is_public: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name is resolved once, by the check; a second lookup (a rebinding DNS server
    answering 127.0.0.2 the next time) is never made."""
    server = serve("127.0.0.1", calendar)
    answers = iter([[(socket.AF_INET, "127.0.0.1")], [(socket.AF_INET, "127.0.0.2")]])
    monkeypatch.setattr(fetch, "_resolve", lambda host, port: next(answers))

    body = get(f"http://calendar.example:{server.server.server_port}/me.ics")

    assert body == b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    assert server.requests == ["/me.ics"]
    assert next(answers) == [(socket.AF_INET, "127.0.0.2")]  # the second answer was unused


def test_a_body_over_the_limit_is_refused(
    serve: Callable[..., Server], first_server_is_public: None
) -> None:
    server = serve("127.0.0.1", calendar)
    with pytest.raises(InvalidInput) as refused:
        get(f"{server.url}/me.ics", max_bytes=10)
    assert refused.value.message == f"The file at {server.url}/me.ics is larger than 10 bytes."
