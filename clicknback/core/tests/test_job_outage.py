"""R-221 for real: the two job loops run as `manage.py` processes against a PostgreSQL server of this
test's own, which is stopped (fast shutdown: every session is ended, new connections are refused) and
started again while they run. They must stay alive, log the failed passes with a traceback, and finish
the work that arrives afterwards — each purchase confirmed and each payout paid exactly once."""

import json
import signal
import subprocess
import sys
import time

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

pytestmark = pytest.mark.skipif(postgres_bindir() is None, reason="PostgreSQL server binaries not found")


def manage_py(env, *args) -> str:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def seed(env) -> dict:
    out = manage_py(env, "shell", "-c", "from clicknback.core.tests.outage_seed import seed; seed()")
    return json.loads(out.strip().splitlines()[-1])


def query(url: str, sql: str, *params):
    with psycopg.connect(url.replace("postgres://", "postgresql://"), connect_timeout=2) as conn:
        return conn.execute(sql, params).fetchall()


def purchase_status(url, purchase_id) -> str:
    return query(url, "SELECT status FROM purchases_purchase WHERE id = %s", purchase_id)[0][0]


def payout_status(url, payout_id) -> str:
    return query(url, "SELECT status FROM payouts_payout WHERE id = %s", payout_id)[0][0]


@pytest.fixture
def own_cluster():
    cluster = ThrowawayCluster()
    try:
        yield cluster
    finally:
        cluster.destroy()


def test_job_loops_survive_a_database_restart_and_finish_the_work_that_follows(own_cluster, tmp_path):
    url = own_cluster.url
    env = manage_py_env(DATABASE_URL=url, DB_CONNECT_TIMEOUT="1")
    manage_py(env, "migrate", "--noinput", "-v", "0")
    before = seed(env)

    logs = {name: tmp_path / f"{name}.log" for name in ("confirm_purchases", "process_payouts")}
    workers = {name: start_manage_py(name, ["--interval", "2"], env, log) for name, log in logs.items()}
    try:
        wait_until(lambda: purchase_status(url, before["purchase"]) == "confirmed", 60, "the first confirmation")
        wait_until(lambda: payout_status(url, before["payout"]) == "paid", 60, "the first payout")

        own_cluster.stop()
        time.sleep(4)  # several passes of both loops find no server
        assert {name: w.poll() for name, w in workers.items()} == {name: None for name in workers}, \
            {name: log.read_text()[-3000:] for name, log in logs.items()}
        own_cluster.start()

        after = seed(env)
        wait_until(lambda: purchase_status(url, after["purchase"]) == "confirmed", 60,
                   "a confirmation after the restart")
        wait_until(lambda: payout_status(url, after["payout"]) == "paid", 60, "a payout after the restart")
        status = subprocess.run([sys.executable, "manage.py", "jobs_status"], cwd=PROJECT_ROOT, env=env,
                                capture_output=True, text=True, timeout=60)
        for worker in workers.values():
            assert worker.poll() is None
            worker.send_signal(signal.SIGTERM)
        for worker in workers.values():
            worker.wait(timeout=30)
    finally:
        stop_processes(workers.values())

    outputs = {name: log.read_text() for name, log in logs.items()}
    assert {name: w.returncode for name, w in workers.items()} == {name: 0 for name in workers}, outputs
    for name, output in outputs.items():
        # Logged with its traceback, then the loop went on.
        assert f"{name}: the pass failed with a database error" in output, output
        assert "Traceback (most recent call last)" in output and "OperationalError" in output, output

    # Nothing processed twice: one confirmation leg per purchase, one paid entry per payout.
    for ids in (before, after):
        assert query(url, "SELECT count(*) FROM wallets_ledgerentry WHERE purchase_id = %s "
                          "AND reason = 'cashback_confirmed' AND balance = 'pending'", ids["purchase"]) == [(1,)]
        assert query(url, "SELECT count(*) FROM wallets_ledgerentry WHERE payout_id = %s "
                          "AND reason = 'payout_paid'", ids["payout"]) == [(1,)]
    assert "0 mismatches" in manage_py(env, "reconcile_wallets")

    # The heartbeat kept counting after the outage, and the outage's error was noted once the server was back.
    [(passes, last_error)] = query(url, "SELECT passes, last_error FROM core_jobheartbeat WHERE job = 'confirm_purchases'")
    assert passes >= 2 and last_error, (passes, last_error)
    assert status.returncode == 0, status.stdout + status.stderr  # checked while the loops still ran
