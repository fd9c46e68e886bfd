"""Issue 9: a database restart under load, with real processes.

gunicorn (2 workers) and both job loops (`confirm_purchases`, `process_payouts`, `--interval 1`) run
on a PostgreSQL cluster of this test's own. Client threads send ingestions (unique external ids),
payout requests (each with its Idempotency-Key) and the operator's approvals, while the test first
restarts the server (`pg_ctl restart -m fast`) and then stops it for a few seconds and starts it again.

What must hold (R-225, R-221, R-142…R-145, R-182…R-185):
- every answer is a 2xx, a 4xx the spec gives for that request, or the 503 `SERVICE_UNAVAILABLE`
  envelope with Retry-After — never a 500, never a dropped connection, never slower than the client
  timeout;
- every 2xx a client received is in the database afterwards, with its amount; a write answered 503
  may or may not have committed, and retrying it with the same external id / Idempotency-Key after the
  outage settles it exactly once (201, 409 DUPLICATE_PURCHASE or an idempotent replay) — so the
  database holds exactly the writes the clients were told about, none twice;
- the job loops are still running after the outage and finish the work: every purchase confirmed,
  every approved payout paid; the wallets match (balances and `reconcile_wallets` exit 0);
- the server answers 2xx again after each outage, without a restart.

The figures (requests by phase and status, acknowledged writes, found afterwards) are printed as one
line starting "restart-under-load" and written to /tmp/clicknback-restart-under-load-<persistent|pool>.txt.
Both ways of holding connections are run: persistent ones (CONN_MAX_AGE, the default) and DB_POOL."""

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

import psycopg
import pytest

from clicknback.testing import (
    PROJECT_ROOT,
    ThrowawayCluster,
    manage_py_env,
    postgres_bindir,
    start_manage_py,
    stop_processes,
    wait_until,
)
from tests.e2e_server import LiveServer

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(postgres_bindir() is None, reason="PostgreSQL server binaries not found")]

PASSWORD = "Str0ng!Passw0rd"
SHOPPERS = 4
CLIENT_TIMEOUT = 10.0  # seconds; an answer slower than this counts as a hang
PURCHASE_AMOUNT, CASHBACK = Decimal("200.00"), Decimal("20.00")  # the seeded offer gives 10 %
PAYOUT_AMOUNT = Decimal("10.00")
WARM_UP_PURCHASES = 5  # per shopper, confirmed before the load: 100.00 available each
MAX_ITERATIONS = 200  # per shopper thread: the load runs until the test stops it, never longer than this
PAUSE = 0.1  # between one shopper's iterations
SUMMARY_PATH = "/tmp/clicknback-restart-under-load-{connections}.txt"

# Settings of every process: payouts limited by balance only (R-123/R-124 would refuse a second one),
# and a payout left `processing` by a finalize the outage broke is re-claimed at once.
SETTINGS = {"DB_CONNECT_TIMEOUT": "2", "PAYOUT_MIN_INTERVAL_HOURS": "0", "PAYOUT_WEEKLY_LIMIT": "100000.00",
            "PAYOUT_STALE_PROCESSING_MINUTES": "0"}


def manage_py(env, *args) -> str:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def query(url: str, sql: str, *params) -> list[tuple]:
    with psycopg.connect(url.replace("postgres://", "postgresql://"), connect_timeout=2) as conn:
        return conn.execute(sql, params).fetchall()


@dataclass
class Answer:
    phase: str
    kind: str  # ingest | payout | approve | retry-ingest | retry-payout | check
    status: int | None  # None: no HTTP answer (refused, reset, timed out)
    body: dict | None
    retry_after: str | None
    sent_at: float  # time.monotonic()
    ended_at: float
    transport_error: str | None = None
    replayed: bool = False

    @property
    def seconds(self) -> float:
        return self.ended_at - self.sent_at


class Clients:
    """Sends requests and records every answer, labelled with the phase the test was in when it was sent."""

    def __init__(self, server: LiveServer):
        self.server = server
        self.phase = "warm-up"
        self.answers: list[Answer] = []
        self._lock = threading.Lock()

    def send(self, kind, method, path, body=None, token=None, headers=None) -> Answer:
        phase, started = self.phase, time.monotonic()
        try:
            status, parsed, hdrs = self.server.request(method, path, body, token=token, headers=headers,
                                                       timeout=CLIENT_TIMEOUT)
            answer = Answer(phase, kind, status, parsed, hdrs.get("Retry-After"), started, time.monotonic(),
                            replayed=hdrs.get("Idempotent-Replayed") == "true")
        except (OSError, ValueError) as exc:  # transport failure, or a body that is not JSON
            answer = Answer(phase, kind, None, None, None, started, time.monotonic(), f"{type(exc).__name__}: {exc}")
        with self._lock:
            self.answers.append(answer)
        return answer


def is_503_envelope(answer: Answer) -> bool:
    error = (answer.body or {}).get("error") or {}
    return (answer.status == 503 and set(answer.body) == {"error"} and error.get("code") == "SERVICE_UNAVAILABLE"
            and set(error) == {"code", "message", "details"} and answer.retry_after is not None
            and int(answer.retry_after) >= 1
            and error["details"].get("retry_after_seconds") == int(answer.retry_after))


def code_of(answer: Answer) -> str | None:
    return ((answer.body or {}).get("error") or {}).get("code")


@pytest.fixture
def cluster():
    own = ThrowawayCluster()  # removes what it made if it cannot start
    try:
        yield own
    finally:
        own.destroy()


@pytest.mark.parametrize("connections", ["persistent", "pool"])
def test_a_database_restart_under_load_loses_no_acknowledged_write_and_the_jobs_finish_r225_r221(
        cluster, tmp_path, connections):
    url = cluster.url
    settings = {**SETTINGS, "DB_POOL": "true" if connections == "pool" else "false"}
    env = manage_py_env(DATABASE_URL=url, **settings)
    manage_py(env, "migrate", "--noinput", "-v", "0")
    seeded = json.loads(manage_py(env, "shell", "-c", f"from tests.restart_seed import seed; "
                                                      f"seed({SHOPPERS}, {PASSWORD!r})").strip().splitlines()[-1])
    merchant, user_ids = seeded["merchant"], seeded["users"]

    server = LiveServer({"DATABASE_URL": url, **settings}, log_name=".e2e-restart-under-load.log", workers=2)
    logs = {name: tmp_path / f"{name}.log" for name in ("confirm_purchases", "process_payouts")}
    jobs = {name: start_manage_py(name, ["--interval", "1"], manage_py_env(DATABASE_URL=url, **{
        **settings, "DB_CONNECT_TIMEOUT": "1"}), log) for name, log in logs.items()}
    clients = Clients(server)
    try:
        tokens = []
        for n in range(SHOPPERS):
            status, body, _ = server.request("POST", "/api/v1/auth/login",
                                             {"email": f"shopper{n}@example.com", "password": PASSWORD})
            assert status == 200, body
            tokens.append(body["access_token"])
        status, body, _ = server.request("POST", "/api/v1/auth/login", {"email": "ops@example.com", "password": PASSWORD})
        assert status == 200, body
        admin_token = body["access_token"]

        acked_purchases: dict[str, dict] = {}  # external id → 201 body
        owner_of_purchase: dict[str, int] = {}
        ambiguous_purchases: dict[str, int] = {}  # external id → shopper, answered 503 (may have committed)
        acked_payouts: dict[str, dict] = {}  # Idempotency-Key → 201 body
        owner_of_key: dict[str, int] = {}
        ambiguous_payouts: dict[str, int] = {}
        approvals: queue.Queue = queue.Queue()
        approved: set[str] = set()
        state = threading.Lock()

        def ingest(shopper: int, external_id: str, kind: str = "ingest") -> Answer:
            answer = clients.send(kind, "POST", "/api/v1/purchases", {
                "external_id": external_id, "user_id": user_ids[shopper], "merchant_id": merchant,
                "amount": str(PURCHASE_AMOUNT), "currency": "EUR"}, token=tokens[shopper])
            with state:
                owner_of_purchase[external_id] = shopper
                if answer.status == 201:
                    acked_purchases[external_id] = answer.body
                    ambiguous_purchases.pop(external_id, None)
                elif answer.status == 409 and code_of(answer) == "DUPLICATE_PURCHASE" and kind == "retry-ingest":
                    # The first attempt committed although its client was told 503: the purchase stands.
                    assert answer.body["error"]["details"].get("previously_created_at"), answer.body
                    acked_purchases[external_id] = {"status": "pending", "cashback_amount": str(CASHBACK),
                                                    "id": None}
                    ambiguous_purchases.pop(external_id, None)
                elif answer.status == 503 or answer.status is None:
                    ambiguous_purchases[external_id] = shopper
            return answer

        def request_payout(shopper: int, key: str, kind: str = "payout") -> Answer:
            answer = clients.send(kind, "POST", "/api/v1/users/me/payouts", {"amount": str(PAYOUT_AMOUNT)},
                                  token=tokens[shopper], headers={"Idempotency-Key": key})
            with state:
                owner_of_key[key] = shopper
                if answer.status == 201:
                    acked_payouts[key] = answer.body
                    ambiguous_payouts.pop(key, None)
                    approvals.put(answer.body["id"])
                elif answer.status == 503 or answer.status is None:
                    ambiguous_payouts[key] = shopper
            return answer

        def approve(payout_id: str) -> bool | None:
            """True once the payout is approved (now, or by an earlier attempt that was answered 503);
            None when the database is away (try again later); False for any other answer."""
            answer = clients.send("approve", "PATCH", f"/api/v1/payouts/{payout_id}/status", {"status": "approved"},
                                  token=admin_token)
            if answer.status == 200:
                return True
            if answer.status == 400 and code_of(answer) == "PAYOUT_INVALID_TRANSITION":
                # Approved by an attempt whose answer was lost in the outage, then taken by the job.
                return answer.body["error"]["details"]["current_status"] in {"processing", "paid"}
            return None if answer.status == 503 or answer.status is None else False

        # Phase A (warm-up): balances to pay out from — ingested, then confirmed by the running loop.
        for shopper in range(SHOPPERS):
            for n in range(WARM_UP_PURCHASES):
                assert ingest(shopper, f"warm-{shopper}-{n}").status == 201
        wait_until(lambda: query(url, "SELECT count(*) FROM purchases_purchase WHERE status = 'confirmed'")
                   == [(SHOPPERS * WARM_UP_PURCHASES,)], 60, "the warm-up purchases to be confirmed")

        # Phase B: the mixed load, through a restart and a stop/start.
        stop = threading.Event()

        def shopper_thread(shopper: int):
            for n in range(MAX_ITERATIONS):
                if stop.is_set():
                    return
                ingest(shopper, f"load-{shopper}-{n}")
                if n % 2:
                    request_payout(shopper, f"payout-{shopper}-{n}")
                time.sleep(PAUSE)

        def operator_thread():
            while not (stop.is_set() and approvals.empty()):
                try:
                    payout_id = approvals.get(timeout=0.2)
                except queue.Empty:
                    continue
                outcome = approve(payout_id)
                if outcome:
                    approved.add(payout_id)
                elif outcome is None:
                    approvals.put(payout_id)  # the database is away: later
                    time.sleep(0.3)

        threads = [threading.Thread(target=shopper_thread, args=(n,), daemon=True) for n in range(SHOPPERS)]
        threads.append(threading.Thread(target=operator_thread, daemon=True))
        clients.phase = "before"
        for thread in threads:
            thread.start()

        timings, outages = {}, []  # outages: (from, to) while the server was not accepting sessions
        time.sleep(2.5)
        clients.phase = "restart"
        started = time.monotonic()
        cluster.restart()
        outages.append((started, time.monotonic()))
        timings["restart_s"] = round(time.monotonic() - started, 2)
        clients.phase = "between"
        time.sleep(2.5)
        clients.phase = "down"
        started = time.monotonic()
        cluster.stop()
        time.sleep(5)
        jobs_during_outage = {name: job.poll() for name, job in jobs.items()}
        cluster.start()
        outages.append((started, time.monotonic()))
        timings["down_s"] = round(time.monotonic() - started, 2)
        clients.phase = "after"
        time.sleep(2.5)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
            assert not thread.is_alive(), "a client thread is stuck"

        # The outage is over: the writes answered 503 are retried with the same external id / key.
        clients.phase = "retry"
        for external_id, shopper in sorted(ambiguous_purchases.items()):
            assert ingest(shopper, external_id, "retry-ingest").status in {201, 409}
        for key, shopper in sorted(ambiguous_payouts.items()):
            assert request_payout(shopper, key, "retry-payout").status == 201
        while not approvals.empty():
            payout_id = approvals.get()
            assert approve(payout_id), clients.answers[-1]
            approved.add(payout_id)
        for token in tokens:  # every worker answers again
            assert clients.send("check", "GET", "/api/v1/users/me", token=token).status == 200

        # The jobs outlived the outage and finish the work.
        assert jobs_during_outage == {name: None for name in jobs}, {n: p.read_text()[-3000:] for n, p in logs.items()}
        wait_until(lambda: query(url, "SELECT count(*) FROM purchases_purchase WHERE status <> 'confirmed'") == [(0,)],
                   60, "every purchase to be confirmed")
        wait_until(lambda: query(url, "SELECT count(*) FROM payouts_payout WHERE status <> 'paid'") == [(0,)],
                   60, "every payout to be paid")
        assert {name: job.poll() for name, job in jobs.items()} == {name: None for name in jobs}
        for job in jobs.values():
            job.send_signal(signal.SIGTERM)
        for job in jobs.values():
            job.wait(timeout=30)
    finally:
        stop_processes(jobs.values())
        server.stop()
    job_outputs = {name: log.read_text() for name, log in logs.items()}
    assert {name: job.returncode for name, job in jobs.items()} == {name: 0 for name in jobs}, job_outputs
    for name, output in job_outputs.items():
        assert f"{name}: the pass failed with a database error" in output, output  # it did see the outage

    answers = clients.answers
    by_phase = {phase: Counter(str(a.status) for a in answers if a.phase == phase)
                for phase in dict.fromkeys(a.phase for a in answers)}
    timings["slowest_answer_s"] = round(max(a.seconds for a in answers), 2)
    purchases = {row[0]: row[1:] for row in query(
        url, "SELECT external_id, id::text, user_id::text, amount, cashback_amount, status FROM purchases_purchase")}
    payouts = {row[0]: row[1:] for row in query(url, "SELECT id::text, user_id::text, amount, status FROM payouts_payout")}
    keys = dict(query(url, "SELECT key, payout_id::text FROM payouts_payoutidempotencykey"))
    write_statuses = Counter(str(a.status) for a in answers if a.kind in {"ingest", "payout", "approve"})
    summary = (
        f"restart-under-load ({connections} connections): {len(answers)} requests, by status {dict(sorted(write_statuses.items()))} "
        f"(+retries {dict(Counter(str(a.status) for a in answers if a.kind.startswith('retry')))}); "
        f"by phase {{{', '.join(f'{p}: {dict(c)}' for p, c in by_phase.items())}}}; "
        f"acknowledged: {len(acked_purchases)} purchases, {len(acked_payouts)} payouts, {len(approved)} approvals; "
        f"found afterwards: {len(purchases)} purchases (all confirmed), {len(payouts)} payouts (all paid); "
        f"timings {timings}"
    )
    print(summary)
    with open(SUMMARY_PATH.format(connections=connections), "w") as out:
        out.write(summary + "\n")

    # Every answer: a 2xx, an expected 4xx, or the 503 envelope; never a 500, a dropped connection or a hang.
    assert [a for a in answers if a.status is None] == [], "transport failures"
    assert [a for a in answers if a.status is not None and a.status >= 500 and not is_503_envelope(a)] == []
    expected_4xx = {("payout", 409, "INSUFFICIENT_BALANCE"), ("retry-ingest", 409, "DUPLICATE_PURCHASE")}
    assert [a for a in answers if 400 <= a.status < 500 and a.kind != "approve"
            and (a.kind, a.status, code_of(a)) not in expected_4xx] == []
    assert all(a.seconds < CLIENT_TIMEOUT for a in answers)
    # A 503 only while the server was away: the request overlapped a restart or the stop/start.
    late = [(a.kind, a.phase, [round(a.sent_at - end, 3) for _, end in outages]) for a in answers
            if a.status == 503 and not any(a.sent_at <= end and a.ended_at >= begin for begin, end in outages)]
    assert late == [], late
    assert by_phase["down"]["503"] > 0, by_phase  # the outage was seen by the clients
    # The server answered again after each outage, without a restart of its own.
    assert by_phase["between"]["201"] > 0 and by_phase["after"]["201"] > 0, by_phase
    assert ambiguous_purchases == {} and ambiguous_payouts == {}  # each retry settled its write

    # Exactly the acknowledged writes are in the database, with their amounts, none twice.
    assert set(purchases) == set(acked_purchases)
    for external_id, body in acked_purchases.items():
        purchase_id, user_id, amount, cashback, status = purchases[external_id]
        assert body["id"] in {purchase_id, None} and body["cashback_amount"] == str(CASHBACK), body
        assert (user_id, amount, cashback, status) == (user_ids[owner_of_purchase[external_id]], PURCHASE_AMOUNT,
                                                       CASHBACK, "confirmed")
    assert set(payouts) == {body["id"] for body in acked_payouts.values()} == approved
    for key, body in acked_payouts.items():
        assert keys[key] == body["id"] and body["amount"] == str(PAYOUT_AMOUNT), body
        assert payouts[body["id"]] == (user_ids[owner_of_key[key]], PAYOUT_AMOUNT, "paid")
    assert len(keys) == len(acked_payouts)

    # The wallets: all cashback confirmed, the payouts paid out of it; the ledger agrees.
    for shopper, user_id in enumerate(user_ids):
        earned = CASHBACK * sum(1 for owner in owner_of_purchase.values() if owner == shopper)
        paid = PAYOUT_AMOUNT * sum(1 for key in acked_payouts if owner_of_key[key] == shopper)
        assert query(url, "SELECT pending_balance, available_balance, paid_balance FROM wallets_wallet "
                          "WHERE user_id = %s", user_id) == [(Decimal("0.00"), earned - paid, paid)]
    assert manage_py(env, "reconcile_wallets").rstrip().endswith(" 0 mismatches.")

    # the outage is logged at WARNING, one line a request, without a traceback.
    server_log = server.log_path.read_text()
    assert "Traceback" not in server_log and " ERROR " not in server_log, server_log[-5000:]
