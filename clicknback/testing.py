"""Test-only helpers, importable from any test module (and, by dotted path, from settings overrides).

Nothing in the product uses this module. It holds the plumbing several apps' tests share, so that each
test module keeps only what it asserts:

- `CheapArgon2PasswordHasher`: Argon2 with a small cost for the suite (root conftest.py);
- the back-office through Django's test client: `admin_messages`, `post_admin_action`,
  `admin_form_errors`, `changelist_pks`, `changelist_columns`, `audit_rows` (the `operator` and
  `office` fixtures are in the root conftest.py);
- API error envelopes (api.md §0.3): `error_of`, `violation_fields`;
- races on real PostgreSQL with real threads: `run_together`, `run_concurrently`, `in_background`,
  `wait_until_a_backend_waits_on_a_lock`;
- `manage.py` subprocesses against the test database: `database_url_of_test_db`, `manage_py_env`,
  `start_manage_py`, `run_manage_py_workers`, `stop_processes`, `wait_until`; and in-process,
  `assert_wallets_reconcile`;
- a PostgreSQL cluster of a test's own, which the test may stop, start and restart (`ThrowawayCluster`,
  `postgres_bindir`).

Models are imported inside the functions: this module is loaded before the app registry is ready.
"""

import io
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

from django.contrib.auth.hashers import Argon2PasswordHasher

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class CheapArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2id with a small cost, for the test suite only."""

    time_cost = 1
    memory_cost = 256
    parallelism = 1


# --- the back-office (Django admin) ------------------------------------------------------------------


def admin_messages(response) -> list[tuple[str, str]]:
    """The messages an admin page shows, as (level tag, text): [("success", "1 user was deactivated."), …]."""
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def post_admin_action(client, url: str, action: str, objects, **extra):
    """Run a changelist action as an operator does: tick `objects` on the changelist at `url`, choose
    `action`, submit; follows the redirect. `extra` adds form fields (an intermediate page's
    `apply="1", reason="…"`, or `post="yes"` to confirm a deletion)."""
    data = {"action": action, "index": 0, "_selected_action": [str(o.pk) for o in objects], **extra}
    return client.post(url, data, follow=True)


def admin_form_errors(response) -> dict:
    """The errors of the add/change form an admin page shows again (status 200: it was refused)."""
    assert response.status_code == 200, f"the form was accepted ({response.status_code})"
    return response.context["adminform"].form.errors


def changelist_pks(response) -> list:
    """The primary keys of the rows a changelist page lists, in the order it shows them."""
    assert response.status_code == 200, response.content[:500]
    return [obj.pk for obj in response.context["cl"].result_list]


def changelist_columns(response, *, checkbox: bool = False) -> list[str]:
    """The column headers of a changelist page, lower-cased. The action checkbox's header is left out
    unless `checkbox` (the admin's `o` ordering parameter counts it as column 0)."""
    from django.contrib.admin.templatetags.admin_list import result_headers

    headers = [str(header["text"]).lower() for header in result_headers(response.context["cl"])]
    return headers if checkbox else [name for name in headers if not name.startswith("<input")]


def audit_rows(resource_type: str, resource=None, action=None, **filters) -> list:
    """The AuditLog rows of a resource type, oldest first; only those of `resource` (by its pk) and of
    `action` when given, further narrowed by `filters` (e.g. outcome=Outcome.FAILURE)."""
    from clicknback.audit.models import AuditLog

    rows = AuditLog.objects.filter(resource_type=resource_type, **filters)
    if resource is not None:
        rows = rows.filter(resource_id=str(resource.pk))
    if action:
        rows = rows.filter(action=action)
    return list(rows.order_by("occurred_at"))


# --- API error envelopes (api.md §0.3) ---------------------------------------------------------------


def error_of(response, status: int | None = None, code: str | None = None) -> dict:
    """The `error` object of an error response, after checking the body is `{"error": …}` and nothing
    else. With `status`, checks the HTTP status; with `code`, checks the error has exactly code,
    message and details and that its code is `code`."""
    if status is not None:
        assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}, response.content
    error = body["error"]
    if code is not None:
        assert set(error) == {"code", "message", "details"}, error
        assert error["code"] == code, error
    return error


def violation_fields(response) -> list[str]:
    """The `field` of each violation of a 400 VALIDATION_ERROR, in the order the API lists them."""
    error = error_of(response, 400, "VALIDATION_ERROR")
    return [violation["field"] for violation in error["details"]["violations"]]


# --- races with real threads --------------------------------------------------------------------------


def _outcome_of(call):
    """`call()`'s return value, or the exception it raised; the calling thread's DB connections are
    closed afterwards (each thread opens its own, which the test database must not keep)."""
    from django.db import connections

    try:
        return call()
    except BaseException as exc:  # noqa: BLE001 — handed to the test, never swallowed
        return exc
    finally:
        connections.close_all()


def run_together(*calls) -> list:
    """Run each call in its own thread, all released at once by a barrier, each on its own DB
    connection. Returns their return values or raised exceptions, in call order; fails if a thread
    is still running after a minute (a deadlock)."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def worker(index, call):
        def released():
            barrier.wait(timeout=30)
            return call()

        outcomes[index] = _outcome_of(released)

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), "a thread is stuck (deadlock?)"
    return outcomes


def run_concurrently(fn, n: int) -> list:
    """`fn(0)` … `fn(n - 1)` at once, as `run_together` runs them; their outcomes in index order."""
    return run_together(*[lambda i=i: fn(i) for i in range(n)])


def in_background(call) -> tuple[threading.Thread, list]:
    """A thread, not yet started, that runs `call` on its own DB connection, and the list its outcome
    (return value or raised exception) is appended to. For races where the test holds a lock first:
    start the thread inside the test's transaction, then join it."""
    outcome: list = []
    return threading.Thread(target=lambda: outcome.append(_outcome_of(call))), outcome


def wait_until_a_backend_waits_on_a_lock(seconds: float = 5.0) -> bool:
    """True once another session of this database waits on a heavyweight lock (False after `seconds`)."""
    from django.db import connections

    deadline = time.monotonic() + seconds
    with connections["default"].cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # activity is otherwise cached per transaction
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.02)
    return False


# --- manage.py subprocesses and the wallets' reconciliation ------------------------------------------


def database_url_of_test_db() -> str:
    """A DATABASE_URL naming the database the tests run on, for a subprocess to use the same data."""
    from django.db import connection

    s = connection.settings_dict
    credentials = quote(s["USER"] or "", safe="")
    if s.get("PASSWORD"):
        credentials += ":" + quote(s["PASSWORD"], safe="")
    return f"postgres://{credentials}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def manage_py_env(**extra) -> dict:
    """The environment of a `manage.py` (or server) subprocess on the test database: the production
    settings with DEBUG off, throwaway signing keys and unbuffered output. `extra` adds or overrides
    variables (values are turned into strings)."""
    return {
        **os.environ,
        "DATABASE_URL": database_url_of_test_db(),
        "DJANGO_SETTINGS_MODULE": "clicknback.settings",
        "DEBUG": "false",
        "SECRET_KEY": "job-test-secret-key-that-is-at-least-32-bytes-long",
        "JWT_SIGNING_KEY": "job-test-jwt-signing-key-at-least-32-bytes-long",
        "PYTHONUNBUFFERED": "1",
        **{key: str(value) for key, value in extra.items()},
    }


def start_manage_py(command: str, args, env: dict, out_path: Path) -> subprocess.Popen:
    """Start `manage.py <command> <args>` in the project root; stdout and stderr go to `out_path`."""
    out = open(out_path, "w")
    try:
        return subprocess.Popen([sys.executable, "manage.py", command, *args], cwd=PROJECT_ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    finally:
        out.close()  # the child keeps its own descriptor


def run_manage_py_workers(command: str, args, env: dict, log_dir: Path, count: int = 2,
                          timeout: float = 60) -> tuple[list[subprocess.Popen], list[str]]:
    """`count` copies of `manage.py <command> <args>` started side by side (worker<n>.log in `log_dir`),
    waited for up to `timeout` s each (then killed); returns the processes and their outputs."""
    processes = []
    try:
        for n in range(count):
            processes.append(start_manage_py(command, args, env, log_dir / f"worker{n}.log"))
        for process in processes:
            process.wait(timeout=timeout)
    finally:
        stop_processes(processes)
    return processes, [(log_dir / f"worker{n}.log").read_text() for n in range(count)]


def stop_processes(processes) -> None:
    """Kill whichever of `processes` still run, and reap them."""
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def wait_until(predicate, timeout: float, what: str) -> None:
    """Poll `predicate` until it is true; fail with "timed out waiting for <what>" after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def reconcile_output() -> str:
    """R-182…R-185: run `reconcile_wallets` in-process; a mismatch makes it exit 1 (SystemExit), which
    fails the test with the command's output."""
    from django.core.management import call_command

    out = io.StringIO()
    try:
        call_command("reconcile_wallets", stdout=out)
    except SystemExit as exc:
        raise AssertionError(f"reconcile_wallets exited {exc.code}:\n{out.getvalue()}") from None
    return out.getvalue()


def assert_wallets_reconcile() -> None:
    """Every wallet balance equals its ledger: `reconcile_wallets` reports 0 mismatches."""
    output = reconcile_output()
    assert output.rstrip().endswith(" 0 mismatches."), output
    assert "MISMATCH" not in output, output


# --- a PostgreSQL cluster of a test's own -------------------------------------------------------------


def postgres_bindir() -> str | None:
    """The directory of initdb and pg_ctl (as scripts/with-throwaway-postgres.sh looks for it), or None."""
    import glob
    import shutil

    candidates = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(os.environ["PG_BINDIR"])
    if shutil.which("pg_config"):
        result = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(result.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]), reverse=True)
    if shutil.which("initdb"):
        candidates.append(str(Path(shutil.which("initdb")).parent))
    for directory in candidates:
        if directory and all(os.access(Path(directory) / tool, os.X_OK) for tool in ("initdb", "pg_ctl")):
            return directory
    return None


class ThrowawayCluster:
    """A PostgreSQL server of one test, never the suite's own: `stop()` (fast shutdown: every session is
    ended, new connections are refused until `start()`), `restart()` (`pg_ctl restart`, the same fast
    shutdown then a start, with no wait in between), `destroy()` (immediate stop, files removed).

    Made as scripts/with-throwaway-postgres.sh makes its cluster: initdb with trust auth and a UTF-8
    locale in a temp dir, listening on a free loopback port only; as root, initdb and pg_ctl run as the
    `postgres` OS user (they refuse root). `url` is its DATABASE_URL; the server log is `log`. Durability
    settings are off (a test's data need not survive a crash), but a fast shutdown still writes every
    committed transaction out first, so data committed before a `stop()`/`restart()` is there after it."""

    SUPERUSER = "clicknback"
    DBNAME = "clicknback"

    def __init__(self):
        import tempfile

        self.bindir = postgres_bindir()
        if self.bindir is None:
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found; set PG_BINDIR")
        self.as_root = os.geteuid() == 0
        self.root = Path(tempfile.mkdtemp(prefix="clicknback-own-pg."))  # mode 0700
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = _free_loopback_port()
        self.url = f"postgres://{self.SUPERUSER}@127.0.0.1:{self.port}/{self.DBNAME}"
        if self.as_root:
            import shutil

            shutil.chown(self.root, user="postgres")
        try:
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", self.SUPERUSER, "-E", "UTF8",
                      "--locale=C.UTF-8", "--no-sync")
            with open(self.data / "postgresql.conf", "a") as conf:
                # The port in the configuration, not on pg_ctl's command line: `pg_ctl restart` keeps it.
                conf.write(f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                           f"unix_socket_directories = '{self.root}'\n"
                           "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
            self.start()
            self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.SUPERUSER, self.DBNAME)
        except BaseException:
            self.destroy()
            raise

    def _run(self, tool: str, *args: str, timeout: float = 120) -> None:
        command = [str(Path(self.bindir) / tool), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, cwd=self.root, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed: {result.stdout}{result.stderr}")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-t", "60", "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-t", "60", "-w", "stop")

    def restart(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", "fast", "-t", "60", "-w", "restart")

    def destroy(self) -> None:
        import shutil

        if (self.data / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-t", "30", "-w", "stop", timeout=60)
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self.root, ignore_errors=True)


def _free_loopback_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def metric_sample(text: str, name: str, **labels) -> float:
    """The value of one sample in a Prometheus exposition (0 when absent, as Prometheus would read a
    new series)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0
