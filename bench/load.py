#!/usr/bin/env python3
"""ClickNBack load generator: asyncio + raw HTTP/1.1 keep-alive, standard library only.

A closed loop: `--concurrency` connections, each sending its next request as soon as the previous
answer has been read. Every scenario runs on its own, one after the other, and is reported as
requests, errors (by status), requests/s and p50/p90/p99/max latency.

    python bench/load.py --scenario merchants,login --admin-email A --admin-password P \\
        --user-email U --user-password Q --concurrency 16 --duration 15 --warmup 3 --json out.json

Safety: the target must be a loopback address (127.0.0.0/8 or ::1), every run is bounded in time
(at most MAX_DURATION seconds per scenario, plus one request timeout) and in count, and the
concurrency is capped.

Adding a scenario: write an async function that receives the Context (tokens, credentials,
a unique run id) and returns a function `make(i) -> Request` for the i-th request, then register
it with @scenario("name", "what it measures"). See `merchants` and `login` below, and the
commented sketches for the scenarios that follow.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import ipaddress
import json
import os
import platform
import re
import socket
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Awaitable, Callable
from urllib.parse import urlsplit

MAX_DURATION = 600.0  # seconds per scenario (warm-up included)
MAX_REQUESTS = 1_000_000  # per scenario
MAX_CONCURRENCY = 512
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
API = "/api/v1"


# --- HTTP/1.1 over asyncio streams ----------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


def json_request(method: str, path: str, payload=None, token: str | None = None) -> Request:
    headers = {}
    body = None
    if payload is not None:
        body = json.dumps(payload).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return Request(method, path, body, headers)


class HttpError(Exception):
    """The server broke the HTTP exchange (not an error status: those are answers)."""


class Connection:
    """One keep-alive connection; reconnects transparently when the server closed it."""

    def __init__(self, address: tuple, host_header: str, timeout: float):
        self.address = address  # (family, sockaddr) resolved and checked once
        self.host_header = host_header
        self.timeout = timeout
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.connects = 0

    async def _connect(self) -> None:
        family, sockaddr = self.address
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await asyncio.get_running_loop().sock_connect(sock, sockaddr)
        except BaseException:
            sock.close()
            raise
        self.reader, self.writer = await asyncio.open_connection(sock=sock, limit=256 * 1024)
        self.connects += 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, req: Request) -> tuple[int, bytes]:
        """(status, body). Raises HttpError/OSError/TimeoutError; the connection is then closed."""
        try:
            async with asyncio.timeout(self.timeout):
                return await self._exchange(req)
        except BaseException:
            self.close()
            raise

    async def _exchange(self, req: Request) -> tuple[int, bytes]:
        # A kept-alive connection the server has closed since (gunicorn keepalive timeout) is only
        # noticed on use: retry once on a fresh connection when nothing at all came back.
        for attempt in (0, 1):
            fresh = self.writer is None
            if fresh:
                await self._connect()
            head = [f"{req.method} {req.path} HTTP/1.1", f"Host: {self.host_header}",
                    "User-Agent: clicknback-bench", "Accept: application/json"]
            head += [f"{k}: {v}" for k, v in req.headers.items()]
            if req.body is not None or req.method in ("POST", "PUT", "PATCH"):
                head.append(f"Content-Length: {len(req.body or b'')}")
            data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (req.body or b"")
            try:
                self.writer.write(data)
                await self.writer.drain()
                status_line = await self.reader.readline()
            except (ConnectionResetError, BrokenPipeError):
                status_line = b""
            if status_line:
                return await self._read_response(status_line, req.method)
            self.close()
            if fresh or attempt:
                raise HttpError("connection closed before any response")
        raise AssertionError("unreachable")

    async def _read_response(self, status_line: bytes, method: str) -> tuple[int, bytes]:
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise HttpError(f"bad status line {status_line[:80]!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        while True:
            line = await self.reader.readline()
            if not line:
                raise HttpError("connection closed in the headers")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = await self._read_chunked()
        elif "content-length" in headers:
            length = int(headers["content-length"])
            if length > MAX_RESPONSE_BYTES:
                raise HttpError(f"response too large ({length} bytes)")
            body = await self.reader.readexactly(length)
        else:
            body = await self.reader.read(MAX_RESPONSE_BYTES)  # delimited by the close
            headers["connection"] = "close"
        if "close" in headers.get("connection", "").lower() or parts[0] == b"HTTP/1.0":
            self.close()  # sync workers answer one request per connection
        return status, body

    async def _read_chunked(self) -> bytes:
        chunks = []
        total = 0
        while True:
            size = int((await self.reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await self.reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_RESPONSE_BYTES:
                raise HttpError("response too large")
            chunks.append(await self.reader.readexactly(size))
            await self.reader.readline()


# --- Target checks --------------------------------------------------------------------------


def resolve_loopback(base_url: str) -> tuple[tuple, str]:
    """((family, sockaddr), Host header) of the target; refuses anything but loopback over http."""
    parts = urlsplit(base_url)
    if parts.scheme != "http":
        raise SystemExit(f"error: only http:// base URLs are supported (got {base_url!r})")
    if parts.path not in ("", "/") or parts.query or parts.username or not parts.hostname:
        raise SystemExit(f"error: --base-url must be scheme://host[:port] (got {base_url!r})")
    port = parts.port or 80
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise SystemExit(f"error: cannot resolve {parts.hostname!r}: {err}")
    for family, _, _, _, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        mapped = getattr(address, "ipv4_mapped", None)
        if not (address.is_loopback or (mapped is not None and mapped.is_loopback)):
            raise SystemExit(
                f"error: refusing to load {parts.hostname} ({address}): only loopback targets "
                "(127.0.0.0/8, ::1) may be benchmarked from this machine."
            )
    family, _, _, _, sockaddr = infos[0]
    # Connect to the checked address itself, so a second lookup cannot send the load elsewhere.
    return (family, sockaddr), parts.netloc


# --- Scenarios ------------------------------------------------------------------------------


class Context:
    """What scenarios share: the target, the credentials and lazily obtained access tokens."""

    def __init__(self, args, address, host_header):
        self.args = args
        self.address = address
        self.host_header = host_header
        self.run_id = uuid.uuid4().hex[:12]  # makes generated ids unique per run
        self._tokens: dict[str, str] = {}
        self.statements = StatementCounter(args.database_url)
        if self.statements.problem and args.database_url:
            print(f"note: no statement counts: {self.statements.problem}", file=sys.stderr)

    async def call(self, req: Request) -> tuple[int, object]:
        conn = Connection(self.address, self.host_header, self.args.timeout)
        try:
            status, body = await conn.request(req)
        finally:
            conn.close()
        try:
            return status, json.loads(body) if body else None
        except ValueError:
            return status, body[:200]

    def credentials(self, role: str) -> tuple[str, str]:
        email = getattr(self.args, f"{role}_email")
        password = getattr(self.args, f"{role}_password")
        if not email or not password:
            flag = f"--{role}-email/--{role}-password (or BENCH_{role.upper()}_EMAIL/_PASSWORD)"
            raise SystemExit(f"error: this scenario needs the {role} login: pass {flag}")
        return email, password

    async def token(self, role: str) -> str:
        """An access token of the admin or the user, logged in once per run."""
        if role not in self._tokens:
            email, password = self.credentials(role)
            status, body = await self.call(json_request("POST", f"{API}/auth/login",
                                                        {"email": email, "password": password}))
            if status != 200 or not isinstance(body, dict) or "access_token" not in body:
                raise SystemExit(f"error: {role} login as {email} failed: HTTP {status} {body}")
            self._tokens[role] = body["access_token"]
        return self._tokens[role]


RequestFactory = Callable[[int], Request]


@dataclass
class Scenario:
    name: str
    description: str
    prepare: Callable[[Context], Awaitable[RequestFactory]]


SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str, description: str):
    def register(prepare):
        SCENARIOS[name] = Scenario(name, description, prepare)
        return prepare
    return register


@scenario("merchants", "GET /api/v1/merchants as the admin: JWT check + user lookup, COUNT + one page (10 rows)")
async def merchants(ctx: Context) -> RequestFactory:
    token = await ctx.token("admin")
    return lambda i: json_request("GET", f"{API}/merchants", token=token)


@scenario("login", "POST /api/v1/auth/login: Argon2 password check (slow by design) + refresh-token insert")
async def login(ctx: Context) -> RequestFactory:
    # The demo user when given, else the admin: the cost is the same.
    role = "user" if ctx.args.user_email and ctx.args.user_password else "admin"
    email, password = ctx.credentials(role)
    return lambda i: json_request("POST", f"{API}/auth/login", {"email": email, "password": password})


@scenario("health", "GET /health/ready: the framework floor (SELECT 1, no auth)")
async def health(ctx: Context) -> RequestFactory:
    return lambda i: Request("GET", "/health/ready")


@scenario("offers", "GET /api/v1/offers/active as the user: live offers joined with their merchant, one page")
async def offers(ctx: Context) -> RequestFactory:
    token = await ctx.token("user")
    return lambda i: json_request("GET", f"{API}/offers/active", token=token)


@scenario("wallet", "GET /api/v1/users/me/wallet as the user: the four balances")
async def wallet(ctx: Context) -> RequestFactory:
    token = await ctx.token("user")
    return lambda i: json_request("GET", f"{API}/users/me/wallet", token=token)


@scenario("ingest", "POST /api/v1/purchases as the user: wallet lock, cap sum, purchase + cashback + ledger + audit")
async def ingest(ctx: Context) -> RequestFactory:
    token = await ctx.token("user")
    status, me = await ctx.call(json_request("GET", f"{API}/users/me", token=token))
    merchant_id = os.environ.get("BENCH_MERCHANT_ID")  # run_pg.sh: a merchant whose cap is far away
    if not merchant_id:
        status, page = await ctx.call(json_request("GET", f"{API}/offers/active?limit=100", token=token))
        if status != 200 or not page.get("data"):
            raise SystemExit("error: the ingest scenario needs a live offer (run seed_demo)")
        names = {offer["merchant_name"] for offer in page["data"]}
        admin = await ctx.token("admin")
        _, merchants = await ctx.call(json_request("GET", f"{API}/merchants?active=true&limit=100", token=admin))
        merchant_id = next(m["id"] for m in merchants["data"] if m["name"] in names)
    # Every request is a new external id: the write path, never the 409 shortcut.
    return lambda i: json_request("POST", f"{API}/purchases", {
        "external_id": f"bench-{ctx.run_id}-{i}", "user_id": me["id"], "merchant_id": merchant_id,
        "amount": "10.00", "currency": "EUR"}, token=token)


@scenario("webhook", "POST /api/v1/webhooks/purchases: HMAC check, then the `ingest` path as a signed "
                    "purchase.created (new external id each time) + the webhook event row")
async def webhook(ctx: Context) -> RequestFactory:
    merchant_id, secret = ctx.args.webhook_merchant_id, ctx.args.webhook_secret
    if not merchant_id or not secret:
        raise SystemExit("error: the webhook scenario needs --webhook-merchant-id and --webhook-secret (or "
                         "BENCH_WEBHOOK_MERCHANT_ID/_SECRET): a merchant with a live offer and its secret from "
                         "`manage.py merchant_webhook_secret`")
    token = await ctx.token("user")
    status, me = await ctx.call(json_request("GET", f"{API}/users/me", token=token))
    if status != 200:
        raise SystemExit(f"error: GET /users/me failed: HTTP {status} {me}")

    def make(i: int) -> Request:
        # Signed when the request is built, outside the timed exchange, with a fresh timestamp.
        body = json.dumps({"event": "purchase.created", "external_id": f"bench-wh-{ctx.run_id}-{i}",
                           "user_id": me["id"], "amount": "10.00", "currency": "EUR"},
                          separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return Request("POST", f"{API}/webhooks/purchases", body, {
            "Content-Type": "application/json", "X-ClickNBack-Merchant": merchant_id,
            "X-ClickNBack-Timestamp": timestamp, "X-ClickNBack-Signature": f"sha256={digest}"})

    return make


SCENARIOS["purchases"] = Scenario("purchases", "the former name of `ingest`", ingest)


# --- Statements per request (PostgreSQL's pg_stat_statements) --------------------------------


class StatementCounter:
    """Counts the statements PostgreSQL executed for the benchmark database, BEGIN and COMMIT
    included, through the pg_stat_statements extension (`make bench` preloads it). Optional: it
    needs psycopg (the project's venv has it) and a DATABASE_URL; without them the column says -."""

    QUERY = ("SELECT queryid, query, calls FROM pg_stat_statements "
             "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
             "AND query NOT LIKE '%%pg_stat_statements%%' "
             # PostgreSQL's own foreign-key checks inside an INSERT: tracked, but not round trips.
             "AND query NOT LIKE 'SELECT $2 FROM ONLY %%FOR KEY SHARE OF x'")

    def __init__(self, database_url: str | None):
        self.conn = None
        self.problem = None
        if not database_url:
            self.problem = "no --database-url"
            return
        try:
            import psycopg
        except ImportError:
            self.problem = "psycopg is not installed"
            return
        try:
            self.conn = psycopg.connect(database_url, autocommit=True)
            self.conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            self.conn.execute(self.QUERY)
        except Exception as err:  # the extension is not preloaded, or no rights: report, don't fail the run
            self.problem = f"pg_stat_statements unavailable: {str(err).strip().splitlines()[0]}"
            if self.conn is not None:
                self.conn.close()
            self.conn = None

    def snapshot(self) -> dict | None:
        if self.conn is None:
            return None
        return {qid: (query, calls) for qid, query, calls in self.conn.execute(self.QUERY).fetchall()}

    @staticmethod
    def per_request(before: dict | None, after: dict | None, requests: int) -> tuple[float | None, list]:
        if before is None or after is None or not requests:
            return None, []
        calls_by_text: Counter = Counter()
        for qid, (query, calls) in after.items():
            delta = calls - before.get(qid, (query, 0))[1]
            if delta > 0:
                # Django names every savepoint uniquely: one line for all of them.
                text = re.sub(r'(SAVEPOINT) "[^"]+"', r'\1 "…"', " ".join(query.split()))[:160]
                calls_by_text[text] += delta
        deltas = sorted(((round(n / requests, 2), text) for text, n in calls_by_text.items()), key=lambda d: -d[0])
        return round(sum(calls_by_text.values()) / requests, 2), deltas


# --- Running --------------------------------------------------------------------------------


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return 0.0
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


def cpu_busy_snapshot() -> tuple[int, int] | None:
    """(busy, total) jiffies of the whole machine, from /proc/stat (Linux only)."""
    try:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


def tree_cpu_seconds(root_pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of a process and its descendants, by pid (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        # after the ")": state ppid ... utime(12th) stime(13th)
        stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (ppid, _) in stats.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier += children
    return {pid: stats[pid][1] for pid in tree if pid in stats}


@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)
    connects: int = 0
    elapsed: float = 0.0


async def run_phase(ctx: Context, make: RequestFactory, concurrency: int, duration: float | None,
                    max_requests: int | None, counter: list[int]) -> Phase:
    phase = Phase()
    loop = asyncio.get_running_loop()
    start = loop.time()
    deadline = start + duration if duration is not None else start + MAX_DURATION
    issued = 0

    async def worker():
        nonlocal issued
        conn = Connection(ctx.address, ctx.host_header, ctx.args.timeout)
        try:
            while loop.time() < deadline and (max_requests is None or issued < max_requests):
                issued += 1
                i = counter[0]
                counter[0] += 1
                req = make(i)
                t0 = time.perf_counter()
                try:
                    status, _ = await conn.request(req)
                except (OSError, HttpError, TimeoutError, asyncio.IncompleteReadError, ValueError) as err:
                    phase.failures[type(err).__name__] += 1
                    await asyncio.sleep(0.05)  # do not spin on a refused connection
                    continue
                phase.latencies.append((time.perf_counter() - t0) * 1000.0)
                phase.statuses[status] += 1
        finally:
            phase.connects += conn.connects
            conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    phase.elapsed = loop.time() - start
    return phase


async def run_scenario(ctx: Context, sc: Scenario, concurrency: int) -> dict:
    args = ctx.args
    make = await sc.prepare(ctx)
    counter = [0]
    if args.warmup > 0:
        await run_phase(ctx, make, concurrency, args.warmup, None, counter)
    server0 = tree_cpu_seconds(args.server_pid) if args.server_pid else None
    statements0 = ctx.statements.snapshot()
    cpu0, proc0 = cpu_busy_snapshot(), time.process_time()
    load0 = os.getloadavg() if hasattr(os, "getloadavg") else None
    phase = await run_phase(ctx, make, concurrency, args.duration, args.requests, counter)
    cpu1, proc1 = cpu_busy_snapshot(), time.process_time()
    statements1 = ctx.statements.snapshot()
    server_cpu = None
    if server0 is not None:
        server1 = tree_cpu_seconds(args.server_pid)
        server_cpu = sum(t - server0.get(pid, 0.0) for pid, t in server1.items())
    lat = sorted(phase.latencies)
    answered = len(lat)
    statements, statement_list = StatementCounter.per_request(statements0, statements1, answered)
    ok = sum(n for s, n in phase.statuses.items() if 200 <= s < 300)
    errors = {str(s): n for s, n in sorted(phase.statuses.items()) if not 200 <= s < 300}
    errors.update(dict(sorted(phase.failures.items())))
    result = {
        "scenario": sc.name,
        "description": sc.description,
        "concurrency": concurrency,
        "seconds": round(phase.elapsed, 3),
        "requests": answered + sum(phase.failures.values()),
        "ok": ok,
        "errors": errors,
        "error_count": sum(errors.values()),
        "rps": round(answered / phase.elapsed, 2) if phase.elapsed else 0.0,
        "ok_rps": round(ok / phase.elapsed, 2) if phase.elapsed else 0.0,
        "latency_ms": {
            "mean": round(sum(lat) / answered, 2) if answered else 0.0,
            "p50": round(percentile(lat, 50), 2),
            "p90": round(percentile(lat, 90), 2),
            "p99": round(percentile(lat, 99), 2),
            "max": round(lat[-1], 2) if lat else 0.0,
        },
        "connections_opened": phase.connects,
        # Shares of the 2-core box: the generator's own CPU, and the whole machine's busy time.
        "generator_cpu_s": round(proc1 - proc0, 2),
        "machine_cpu_busy": (round((cpu1[0] - cpu0[0]) / max(1, cpu1[1] - cpu0[1]), 3)
                             if cpu0 and cpu1 else None),
        "loadavg_1m_at_start": round(load0[0], 2) if load0 else None,
        # With --server-pid: CPU of the server's process tree (not the database's) per answer.
        "server_cpu_s": round(server_cpu, 2) if server_cpu is not None else None,
        "server_cpu_ms_per_request": (round(server_cpu * 1000 / answered, 3)
                                      if server_cpu is not None and answered else None),
        # PostgreSQL's count (BEGIN/COMMIT included) per answer, and the statements behind it.
        "statements_per_request": statements,
        "statements": [{"per_request": n, "query": q} for n, q in statement_list],
    }
    return result


def print_table(results: list[dict], out=sys.stdout) -> None:
    header = f"{'scenario':<12} {'conc':>4} {'requests':>8} {'errors':>7} {'req/s':>8} " \
             f"{'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} {'gen cpu':>7} {'box cpu':>7} {'srv ms/req':>10} " \
             f"{'stmts/req':>9}"
    print(header, file=out)
    print("-" * len(header), file=out)
    for r in results:
        lat = r["latency_ms"]
        busy = f"{r['machine_cpu_busy'] * 100:.0f}%" if r["machine_cpu_busy"] is not None else "-"
        gen = f"{r['generator_cpu_s'] / r['seconds'] * 100:.0f}%" if r["seconds"] else "-"
        srv = f"{r['server_cpu_ms_per_request']:.2f}" if r["server_cpu_ms_per_request"] is not None else "-"
        stmts = f"{r['statements_per_request']:.1f}" if r.get("statements_per_request") is not None else "-"
        print(f"{r['scenario']:<12} {r['concurrency']:>4} {r['requests']:>8} {r['error_count']:>7} "
              f"{r['rps']:>8.1f} {lat['p50']:>8.1f} {lat['p90']:>8.1f} {lat['p99']:>8.1f} "
              f"{lat['max']:>8.1f} {gen:>7} {busy:>7} {srv:>10} {stmts:>9}", file=out)
        if r["errors"]:
            print(f"{'':<12} errors by status: " + ", ".join(f"{k}: {v}" for k, v in r["errors"].items()),
                  file=out)
    print("gen cpu: the load generator's own CPU (100% = one core); box cpu: whole machine busy "
          "(all cores); srv ms/req: CPU of the --server-pid tree per answer; stmts/req: statements PostgreSQL ran "
          "per answer (pg_stat_statements, BEGIN/COMMIT included).", file=out)


def print_statements(results: list[dict], out=sys.stdout) -> None:
    for r in results:
        if not r.get("statements"):
            continue
        print(f"\nstatements per {r['scenario']} request (pg_stat_statements):", file=out)
        for s in r["statements"]:
            print(f"  {s['per_request']:>6.2f}  {s['query']}", file=out)


def print_comparison(results: list[dict], baseline_path: str, out=sys.stdout) -> None:
    """Each scenario against the same scenario in a committed baseline: new / old (lower is better
    for CPU, statements and p99; higher for req/s)."""
    try:
        with open(baseline_path) as f:
            baseline = {r["scenario"]: r for r in json.load(f)["results"]}
    except (OSError, ValueError, KeyError) as err:
        print(f"\nno comparison: cannot read baseline {baseline_path}: {err}", file=out)
        return

    def ratio(new, old):
        return f"{new / old:.2f}x" if new is not None and old else "-"

    print(f"\nagainst {baseline_path} (new / baseline):", file=out)
    header = f"{'scenario':<12} {'req/s':>8} {'p99':>8} {'srv ms/req':>10} {'stmts/req':>9}"
    print(header, file=out)
    print("-" * len(header), file=out)
    for r in results:
        old = baseline.get(r["scenario"])
        if old is None:
            print(f"{r['scenario']:<12} (not in the baseline)", file=out)
            continue
        print(f"{r['scenario']:<12} {ratio(r['rps'], old['rps']):>8} "
              f"{ratio(r['latency_ms']['p99'], old['latency_ms']['p99']):>8} "
              f"{ratio(r['server_cpu_ms_per_request'], old.get('server_cpu_ms_per_request')):>10} "
              f"{ratio(r.get('statements_per_request'), old.get('statements_per_request')):>9}", file=out)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Load test a local ClickNBack server (loopback targets only).",
        epilog="Scenarios: " + "; ".join(f"{s.name}: {s.description}" for s in SCENARIOS.values()),
    )
    p.add_argument("--base-url", default=os.environ.get("BENCH_BASE_URL", "http://127.0.0.1:8000"))
    p.add_argument("--scenario", action="append", default=None,
                   help="scenario name, or name:N to use N connections for it; repeat it or give a "
                        "comma list (default: merchants)")
    p.add_argument("--concurrency", type=int, default=16, help="open connections (default 16)")
    p.add_argument("--duration", type=float, default=None,
                   help=f"measured seconds per scenario (default 15 unless --requests; at most {MAX_DURATION:.0f})")
    p.add_argument("--requests", type=int, default=None,
                   help=f"stop after this many requests per scenario (at most {MAX_REQUESTS})")
    p.add_argument("--warmup", type=float, default=0.0, help="unmeasured seconds before each scenario")
    p.add_argument("--timeout", type=float, default=30.0, help="per-request timeout in seconds (default 30)")
    p.add_argument("--admin-email", default=os.environ.get("BENCH_ADMIN_EMAIL"))
    p.add_argument("--admin-password", default=os.environ.get("BENCH_ADMIN_PASSWORD"))
    p.add_argument("--user-email", default=os.environ.get("BENCH_USER_EMAIL"))
    p.add_argument("--user-password", default=os.environ.get("BENCH_USER_PASSWORD"))
    p.add_argument("--webhook-merchant-id", default=os.environ.get("BENCH_WEBHOOK_MERCHANT_ID"),
                   help="webhook scenario: the signing merchant (it needs a live offer)")
    p.add_argument("--webhook-secret", default=os.environ.get("BENCH_WEBHOOK_SECRET"),
                   help="webhook scenario: that merchant's webhook secret (env preferred: kept out of `ps`)")
    p.add_argument("--server-pid", type=int, default=None,
                   help="the server's master pid (same machine): also report its process tree's CPU per request")
    p.add_argument("--label", default="", help="a free-text tag stored in the JSON (e.g. the server config)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    p.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"),
                   help="the server's PostgreSQL database: count statements per request with pg_stat_statements")
    p.add_argument("--baseline", metavar="FILE", help="compare with the results in FILE (e.g. bench/baseline.json)")
    p.add_argument("--show-statements", action="store_true", help="list the statements behind each scenario")
    args = p.parse_args(argv)

    if not 1 <= args.concurrency <= MAX_CONCURRENCY:
        p.error(f"--concurrency must be in [1, {MAX_CONCURRENCY}]")
    # "name" or "name:N" (N connections for that scenario instead of --concurrency).
    args.scenarios = []
    for item in args.scenario or ["merchants"]:
        for entry in (e.strip() for e in item.split(",")):
            if not entry:
                continue
            name, _, conc = entry.partition(":")
            if name not in SCENARIOS:
                p.error(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
            if conc and not (conc.isdigit() and 1 <= int(conc) <= MAX_CONCURRENCY):
                p.error(f"bad concurrency in {entry!r}: must be 1..{MAX_CONCURRENCY}")
            args.scenarios.append((name, int(conc) if conc else args.concurrency))
    if args.duration is None and args.requests is None:
        args.duration = 15.0
    if args.duration is not None and not 0 < args.duration <= MAX_DURATION:
        p.error(f"--duration must be in (0, {MAX_DURATION:.0f}]")
    if args.requests is not None and not 0 < args.requests <= MAX_REQUESTS:
        p.error(f"--requests must be in [1, {MAX_REQUESTS}]")
    if not 0 <= args.warmup <= 60:
        p.error("--warmup must be in [0, 60]")
    if not 0 < args.timeout <= 120:
        p.error("--timeout must be in (0, 120]")
    if args.requests is not None and args.duration is None:
        args.duration = MAX_DURATION  # a count alone is still bounded in time
    return args


async def main_async(args) -> list[dict]:
    address, host_header = resolve_loopback(args.base_url)
    ctx = Context(args, address, host_header)
    results = []
    for name, concurrency in args.scenarios:
        sc = SCENARIOS[name]
        print(f"== {name}: {sc.description}\n   {concurrency} connections, "
              f"{'%gs' % args.duration if args.requests is None else '%d requests' % args.requests}"
              f"{', warm-up %gs' % args.warmup if args.warmup else ''} against {args.base_url}",
              file=sys.stderr, flush=True)
        results.append(await run_scenario(ctx, sc, concurrency))
    return results


def main(argv=None) -> int:
    args = parse_args(argv)
    started = datetime.now(timezone.utc)
    results = asyncio.run(main_async(args))
    print()
    print_table(results)
    if args.show_statements:
        print_statements(results)
    if args.baseline:
        print_comparison(results, args.baseline)
    if args.json:
        doc = {
            "label": args.label,
            "started_at": started.isoformat(timespec="seconds"),
            "base_url": args.base_url,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "python": platform.python_version()},
            "settings": {"concurrency": args.concurrency, "duration": args.duration, "server_pid": args.server_pid,
                         "requests": args.requests, "warmup": args.warmup, "timeout": args.timeout},
            "results": results,
        }
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        print(f"results written to {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
