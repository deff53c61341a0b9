"""checkout.*: selling one contended quota to 20 concurrent buyers through a real server.

Tillbook runs as in production: `tillbook serve` (gunicorn, 4 sync workers) against the
benchmark's database, DEBUG off. Buyers are threads of this process speaking plain HTTP/1.1
(http.client), each with its own cookies.

- checkout.api: one `POST /api/v1/checkouts` per order (the order is placed and its places held
  under the quota lock; pretix's API figure is for the same step).
- checkout.web: every request a buyer's browser makes, from the offering page to the paid order
  page with the sandbox processor: offering page, add to cart, cart, checkout page, place order,
  sandbox page, pay, order page (8 requests; pretix needs ~11).
- checkout.pages: storefront page latency (business and offering pages) under 20 concurrent
  clients.

Each run sells a quota to exhaustion and then checks there is no oversell: places held in the
database equal the quota, and the buyers were told "sold out" for the rest. CPU per order is
machine CPU (/proc/stat: server, PostgreSQL and these client threads together, as pretix's
figure is) and the client's own share separately.

Baselines, measured in the same run: for the checkouts, the irreducible database work of a
correct contended sale written by hand (lock the quota row, count in one statement, insert,
commit) with 20 threads on their own connections, no HTTP and no Django; for pages, GET /healthz
through the same server (routing, middleware, a JSON body), so the ratio is what rendering a
storefront page costs on top of the stack.

pretix 2026.8 on this kind of 2-core machine (REFERENCE.md): ~1,190 orders/minute through its
API (~105 ms of machine CPU per order) and ~210/minute through its web checkout (~600 ms).
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.db import connection
from django.utils import timezone

from bench.registry import Context, Row, benchmark

BUYERS = 20
WORKERS = 4
API_QUOTA = 1500
WEB_QUOTA = 400
PAGE_REQUESTS = 2000
TIME_LIMIT = 240.0  # seconds per run: a run that cannot sell its quota by then stops
PRETIX_API_PER_MINUTE = 1190
PRETIX_API_CPU_MS = 105
PRETIX_WEB_PER_MINUTE = 210
PRETIX_WEB_CPU_MS = 600


# --- machine CPU ---------------------------------------------------------------------------


def machine_cpu_ms() -> float:
    """Busy CPU time of the whole machine so far (all cores), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    ticks = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq + steal) * 1000.0 / ticks


def _processes() -> list[tuple[int, int, str, float]]:
    """(pid, parent pid, command line, CPU ms so far) of every process we can read."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
            command = (
                (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            )
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        cpu = (int(fields[11]) + int(fields[12])) * 1000.0 / ticks
        found.append((int(entry.name), int(fields[1]), command, cpu))
    return found


def split_cpu_ms(server_pid: int) -> tuple[float, dict[int, float]]:
    """CPU so far of the web server (gunicorn master and workers), and per process of the
    PostgreSQL backends serving this run's database (their title names it; other databases
    on the same server, e.g. other test runs, are not counted)."""
    database_name = urlsplit(os.environ["DATABASE_URL"]).path.lstrip("/")
    web = 0.0
    backends: dict[int, float] = {}
    for pid, parent, command, cpu in _processes():
        if pid == server_pid or parent == server_pid:
            web += cpu
        elif command.startswith("postgres:") and f" {database_name} " in command:
            backends[pid] = cpu
    return web, backends


def backends_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU the backends used in between. A backend that exited in between took its CPU with
    it (not counted: the web server keeps its connections, so this is rare); one that started
    in between counts whole."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


@dataclass
class CpuWindow:
    server_pid: int = 0
    machine: float = 0.0
    client: float = 0.0
    web: float = 0.0
    database: float = 0.0
    load: float = 0.0

    def __enter__(self) -> CpuWindow:
        self._machine = machine_cpu_ms()
        self._client = time.process_time() * 1000
        self._split = split_cpu_ms(self.server_pid)
        return self

    def __exit__(self, *_: object) -> None:
        self.machine = machine_cpu_ms() - self._machine
        self.client = time.process_time() * 1000 - self._client
        web, backends = split_cpu_ms(self.server_pid)
        self.load = os.getloadavg()[0]
        self.web = web - self._split[0]
        self.database = backends_delta(self._split[1], backends)


# --- the server ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """`tillbook serve` in a child process, on this run's database and settings."""

    def __init__(self, workdir: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "TILLBOOK_BIND": f"127.0.0.1:{self.port}",
            "TILLBOOK_WEB_WORKERS": str(WORKERS),
            "TILLBOOK_BASE_URL": self.base,
            "TILLBOOK_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "TILLBOOK_SSL_REDIRECT": "0",
            "TILLBOOK_SECURE_COOKIES": "0",
            "TILLBOOK_HSTS_SECONDS": "0",
            "TILLBOOK_STATIC_ROOT": str(workdir / "static"),
            "TILLBOOK_LOG_LEVEL": "WARNING",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        tillbook = [sys.executable, "-m", "tillbook"]
        subprocess.run(  # noqa: S603
            [*tillbook, "collectstatic", "--noinput", "-v0"], env=self.env, check=True
        )
        self.process = subprocess.Popen(  # noqa: S603
            [*tillbook, "serve"], env=self.env, stdout=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if Client(self.base).get("/healthz").status == 200:
                    return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("tillbook serve did not answer /healthz within 30 s")

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


# --- a minimal HTTP client with cookies ----------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: str


@dataclass
class Client:
    base: str
    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self, method: str, path: str, body: str = "", headers: dict[str, str] | None = None
    ) -> Response:
        parts = urlsplit(self.base)
        if path.startswith("http"):
            target = urlsplit(path)
            path = target.path + (f"?{target.query}" if target.query else "")
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
        sent = {"Host": f"{parts.hostname}:{parts.port}", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            conn.request(method, path, body=body.encode() if body else None, headers=sent)
            raw = conn.getresponse()
            text = raw.read().decode("utf-8", "replace")
            for header, value in raw.getheaders():
                if header.lower() == "set-cookie":
                    name, _, rest = value.partition("=")
                    self.cookies[name.strip()] = rest.split(";", 1)[0]
            return Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, text)
        finally:
            conn.close()

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post_form(self, path: str, data: dict[str, str]) -> Response:
        data = {"csrfmiddlewaretoken": self.cookies.get("csrftoken", ""), **data}
        return self.request(
            "POST",
            path,
            urlencode(data),
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Referer": f"{self.base}{path}" if path.startswith("/") else path,
            },
        )

    def post_json(self, path: str, body: str, token: str) -> Response:
        return self.request(
            "POST",
            path,
            body,
            {
                "Content-Type": "application/json",
                "Authorization": f"Bearer {token}",
            },
        )


# --- data ----------------------------------------------------------------------------------


@dataclass
class Sale:
    slug: str
    offering_id: int
    offering_slug: str
    ticket_type_id: int
    quota_id: int
    token: str


def _prepare(context: Context) -> dict[str, Sale]:
    from bench.fixtures import bench_business
    from tillbook.api.services import api_token_create
    from tillbook.catalog.models import OfferingState
    from tillbook.catalog.services import (
        event_save,
        offering_create,
        quota_save,
        ticket_type_save,
    )
    from tillbook.core.scoping import business_scope
    from tillbook.payments.provider_accounts import provider_account_save

    business = bench_business("bench-shop")
    sales = {}
    with business_scope(business):
        # Production settings keep the sandbox off until an owner switches it on.
        provider_account_save(business=business, provider="sandbox", actor=None, is_enabled=True)
        token = api_token_create(
            business=business, actor=None, name="bench", scopes=["orders:write", "catalog:read"]
        ).secret
        for key, size in (("api", API_QUOTA), ("web", WEB_QUOTA)):
            offering = offering_create(
                business=business,
                actor=None,
                kind="ticket",
                title=f"Conference {key}",
                price=4900,
                state=OfferingState.PUBLISHED,
                max_per_order=10,
            )
            event_save(
                offering=offering,
                starts_at=timezone.now() + timedelta(days=30),
                ends_at=None,
                timezone_name="America/Chicago",
                venue_name="Hall",
            )
            quota = quota_save(offering=offering, name="Seats", size=size)
            ticket_type = ticket_type_save(
                offering=offering, name="Regular", price=None, quota=quota
            )
            sales[key] = Sale(
                business.slug, offering.pk, offering.slug, ticket_type.pk, quota.pk, token
            )
    return sales


def _held(quota_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(SUM(quantity), 0) FROM orders_orderline WHERE quota_id = %s "
            "AND capacity_state IN ('reserved', 'sold')",
            [quota_id],
        )
        return int(cursor.fetchone()[0])


# --- running buyers ------------------------------------------------------------------------


@dataclass
class Tally:
    sold: int = 0
    sold_out: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _run_buyers(
    server: Server, buy_one: Callable[[int, int], str]
) -> tuple[Tally, float, CpuWindow]:
    """Every buyer buys until told "sold out"; returns the tally, seconds and CPU."""
    tally = Tally()
    stop_at = time.monotonic() + TIME_LIMIT
    start = threading.Barrier(BUYERS + 1)

    def buyer(index: int) -> None:
        start.wait()
        attempt = 0
        while time.monotonic() < stop_at:
            attempt += 1
            try:
                outcome = buy_one(index, attempt)
            except Exception as error:
                outcome = f"error: {type(error).__name__}: {error}"
            with tally.lock:
                if outcome == "sold":
                    tally.sold += 1
                elif outcome == "sold out":
                    tally.sold_out += 1
                    return
                else:
                    tally.errors.append(outcome)
                    if len(tally.errors) > 50:
                        return

    threads = [threading.Thread(target=buyer, args=(i,), daemon=True) for i in range(BUYERS)]
    for thread in threads:
        thread.start()
    assert server.process is not None
    with CpuWindow(server_pid=server.process.pid) as cpu:
        started = time.perf_counter()
        start.wait()
        for thread in threads:
            thread.join(TIME_LIMIT + 60)
        elapsed = time.perf_counter() - started
    return tally, elapsed, cpu


def _api_buyer(server: Server, sale: Sale) -> Callable[[int, int], str]:
    import json

    def buy(index: int, attempt: int) -> str:
        body = json.dumps(
            {
                "items": [
                    {
                        "offering_id": sale.offering_id,
                        "ticket_type_id": sale.ticket_type_id,
                        "quantity": 1,
                    }
                ],
                "email": f"api{index}-{attempt}@example.com",
                "name": f"Buyer {index}",
            }
        )
        response = Client(server.base).post_json("/api/v1/checkouts", body, sale.token)
        if response.status == 201:
            return "sold"
        if response.status == 409 and "Sold out" in response.body:
            return "sold out"
        return f"{response.status}: {response.body[:200]}"

    return buy


_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_TOTAL = re.compile(r'name="expected_total" value="([^"]*)"')


def _web_buyer(server: Server, sale: Sale) -> Callable[[int, int], str]:
    shop = f"/{sale.slug}"

    def buy(index: int, attempt: int) -> str:
        browser = Client(server.base)
        page = browser.get(f"{shop}/p/{sale.offering_slug}/")
        if page.status != 200:
            return f"offering page {page.status}"
        added = browser.post_form(
            f"{shop}/cart/add/",
            {
                "offering": str(sale.offering_id),
                f"qty_ticket_{sale.ticket_type_id}": "1",
            },
        )
        if added.status != 302:
            return f"add to cart {added.status}"
        browser.get(added.headers["location"])
        checkout = browser.get(f"{shop}/checkout/")
        total = _TOTAL.search(checkout.body)
        if checkout.status != 200 or total is None:
            return f"checkout page {checkout.status}"
        placed = browser.post_form(
            f"{shop}/checkout/",
            {
                "email": f"web{index}-{attempt}@example.com",
                "name": f"Buyer {index}",
                "expected_total": total.group(1),
                "provider": "sandbox",
            },
        )
        if placed.status == 409 and "Sold out" in placed.body:
            return "sold out"
        if placed.status != 302:
            return f"place order {placed.status}: {placed.body[:200]}"
        sandbox = placed.headers["location"]
        browser.get(sandbox)
        paid = browser.post_form(sandbox, {"outcome": "succeed"})
        if paid.status != 302:
            return f"pay {paid.status}"
        order = browser.get(paid.headers["location"])
        if "Thank you — paid" not in order.body:
            return "order page not paid"
        return "sold"

    return buy


# --- the baseline: a correct contended sale, by hand ----------------------------------------


def _baseline_sales(quota: int) -> tuple[float, int]:
    """Sell `quota` places with 20 threads doing only lock, one-statement count, insert."""
    import psycopg

    url = os.environ["DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("DROP TABLE IF EXISTS bench_sale, bench_quota")
        admin.execute("CREATE TABLE bench_quota (id int PRIMARY KEY, size int NOT NULL)")
        admin.execute(
            "CREATE TABLE bench_sale (id bigserial PRIMARY KEY, quota_id int NOT NULL, "
            "quantity int NOT NULL, email text NOT NULL, created_at timestamptz "
            "NOT NULL DEFAULT now())"
        )
        admin.execute("CREATE INDEX ON bench_sale (quota_id)")
        admin.execute("INSERT INTO bench_quota VALUES (1, %s)", [quota])
    start = threading.Barrier(BUYERS + 1)
    sold = [0] * BUYERS

    def buyer(index: int) -> None:
        with psycopg.connect(url) as conn:
            start.wait()
            while True:
                with conn.transaction():
                    size = _scalar(conn, "SELECT size FROM bench_quota WHERE id = 1 FOR UPDATE")
                    held = _scalar(
                        conn, "SELECT COALESCE(SUM(quantity), 0) FROM bench_sale WHERE quota_id = 1"
                    )
                    if held + 1 > size:
                        return
                    conn.execute(
                        "INSERT INTO bench_sale (quota_id, quantity, email) VALUES (1, 1, %s)",
                        [f"b{index}@example.com"],
                    )
                sold[index] += 1

    threads = [threading.Thread(target=buyer, args=(i,), daemon=True) for i in range(BUYERS)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, sum(sold)


def _scalar(conn: Any, sql: str) -> int:
    row = conn.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


# --- pages ---------------------------------------------------------------------------------


def _latencies(server: Server, paths: list[str]) -> list[float]:
    samples: list[float] = []
    lock = threading.Lock()
    per_client = PAGE_REQUESTS // BUYERS

    def client(index: int) -> None:
        browser = Client(server.base)
        mine = []
        for n in range(per_client):
            path = paths[(index + n) % len(paths)]
            started = time.perf_counter()
            response = browser.get(path)
            mine.append(time.perf_counter() - started)
            if response.status != 200:
                raise RuntimeError(f"GET {path} answered {response.status}")
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(BUYERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples


# --- the benchmark -------------------------------------------------------------------------


def _check(name: str, tally: Tally, quota: int, held: int) -> None:
    if tally.errors:
        raise RuntimeError(f"{name}: {len(tally.errors)} failed requests, e.g. {tally.errors[:3]}")
    if held != quota or tally.sold != quota:
        raise RuntimeError(
            f"{name}: OVERSOLD or undersold: quota {quota}, database holds {held}, "
            f"buyers were sold {tally.sold}"
        )


@benchmark("checkout.contended")
def checkout_contended(context: Context) -> list[Row]:
    if context.vendor != "postgresql":
        print("checkout: skipped, needs --database postgres", file=sys.stderr)
        return []
    sales = _prepare(context)
    baseline_seconds, baseline_sold = _baseline_sales(API_QUOTA)
    baseline_rate = baseline_sold / baseline_seconds * 60
    rows = []
    with Server(context.workdir) as server:
        api_tally, api_seconds, api_cpu = _run_buyers(server, _api_buyer(server, sales["api"]))
        _check("checkout.api", api_tally, API_QUOTA, _held(sales["api"].quota_id))
        web_tally, web_seconds, web_cpu = _run_buyers(server, _web_buyer(server, sales["web"]))
        _check("checkout.web", web_tally, WEB_QUOTA, _held(sales["web"].quota_id))
        shop = f"/{sales['web'].slug}"
        pages = _latencies(
            server,
            [
                f"{shop}/",
                f"{shop}/p/{sales['web'].offering_slug}/",
                f"{shop}/p/{sales['api'].offering_slug}/",
            ],
        )
        health = _latencies(server, ["/healthz"])
    for name, tally, elapsed, cpu, pretix_rate, pretix_cpu in (
        ("checkout.api", api_tally, api_seconds, api_cpu, PRETIX_API_PER_MINUTE, PRETIX_API_CPU_MS),
        ("checkout.web", web_tally, web_seconds, web_cpu, PRETIX_WEB_PER_MINUTE, PRETIX_WEB_CPU_MS),
    ):
        rate = tally.sold / elapsed * 60
        machine_ms = cpu.machine / tally.sold
        client_ms = cpu.client / tally.sold
        rows.append(
            Row.compare(
                f"{name} orders/min (quota {tally.sold}, 20 buyers)",
                figure=rate,
                baseline=baseline_rate,
                unit="orders/min",
                higher_is_better=True,
                note=f"0 oversold; {rate / pretix_rate:.1f}x pretix's {pretix_rate}/min",
            )
        )
        own_ms = (cpu.web + cpu.database + cpu.client) / tally.sold
        rows.append(
            Row.compare(
                f"{name} CPU per order (Tillbook)",
                figure=own_ms,
                baseline=pretix_cpu,
                unit="ms",
                higher_is_better=False,
                note=f"gunicorn {cpu.web / tally.sold:.0f} + PostgreSQL "
                f"{cpu.database / tally.sold:.0f} + client {client_ms:.0f} ms; vs pretix's figure",
            )
        )
        rows.append(
            Row.compare(
                f"{name} CPU per order (machine)",
                figure=machine_ms,
                baseline=pretix_cpu,
                unit="ms",
                higher_is_better=False,
                note=f"everything on the machine; load average {cpu.load:.1f} at the end",
            )
        )
    rows += Row.latencies(
        "checkout.pages p{percent} (20 clients)",
        ours=pages,
        theirs=health,
        note=f"{len(pages)} storefront pages; baseline GET /healthz",
    )
    rows.append(
        Row(
            "checkout.baseline sale (SQL by hand)",
            baseline_rate,
            "orders/min",
            baseline_rate,
            1.0,
            "lock + one-statement count + insert, 20 threads",
        )
    )
    return rows
