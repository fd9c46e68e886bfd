"""The shared job loop (rules.md §15, R-221) and job health: the heartbeat every pass records,
`manage.py jobs_status` and its exit codes. The real outage (a PostgreSQL server stopped and started
under the running loops) is in test_job_outage.py."""

import datetime as dt
import io
import logging
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError, ProgrammingError
from django.utils import timezone

from clicknback.core import services
from clicknback.core.models import JobHeartbeat
from clicknback.core.selectors import JobState, job_health
from clicknback.jobs import JobLoop, PassCounts
from clicknback.testing import PROJECT_ROOT, manage_py_env

pytestmark = pytest.mark.django_db

JOBS = ("confirm_purchases", "process_payouts")


def beat(job: str, *, seconds_ago: float, interval: int = 60, handled: int = 0, failed: int = 0) -> None:
    at = timezone.now() - dt.timedelta(seconds=seconds_ago)
    services.record_pass(job=job, interval_seconds=interval, started_at=at - dt.timedelta(seconds=1), finished_at=at,
                         handled=handled, failed=failed)


def jobs_status(*args) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("jobs_status", *args, stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


class ScriptedPasses:
    """A pass function that raises or returns what it is given, one per call; asks the loop to stop after
    the last one."""

    def __init__(self, loop: JobLoop, *outcomes):
        self.loop, self.outcomes, self.calls = loop, list(outcomes), 0

    def __call__(self):
        outcome = self.outcomes[self.calls]
        self.calls += 1
        if self.calls == len(self.outcomes):
            self.loop.request_stop()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def looping(monkeypatch, name="confirm_purchases", interval=7) -> tuple[JobLoop, list]:
    loop = JobLoop(name=name, interval=interval)
    sleeps = []
    monkeypatch.setattr(loop, "_sleep", sleeps.append)
    return loop, sleeps


# --- the heartbeat -------------------------------------------------------------------------------------


def test_each_pass_of_the_real_commands_records_when_it_ran_and_what_it_handled():
    started = timezone.now()
    call_command("confirm_purchases", "--once", "--interval", "30", stdout=io.StringIO())
    call_command("process_payouts", "--once", stdout=io.StringIO())
    call_command("confirm_purchases", "--once", "--interval", "30", stdout=io.StringIO())

    confirm, payouts = JobHeartbeat.objects.order_by("job")
    assert (confirm.job, confirm.passes, confirm.interval_seconds) == ("confirm_purchases", 2, 30)
    assert (payouts.job, payouts.passes, payouts.interval_seconds) == ("process_payouts", 1, 60)
    assert started <= confirm.last_pass_started_at <= confirm.last_pass_at <= timezone.now()
    assert (confirm.last_handled, confirm.last_failed, confirm.last_error) == (0, 0, "")


def test_pending_purchases_handled_by_a_pass_are_counted_in_the_heartbeat():
    from purchases.tests.test_confirmation_job import ingest, merchant_with_offer
    from accounts.tests.factories import UserFactory

    user, merchant = UserFactory(), merchant_with_offer()
    for _ in range(3):
        ingest(user, merchant)
    call_command("confirm_purchases", "--once", stdout=io.StringIO())
    row = JobHeartbeat.objects.get(job="confirm_purchases")
    assert (row.last_handled, row.last_failed, row.total_handled) == (3, 0, 3)


def test_passes_add_up_in_the_totals_and_the_last_pass_overwrites_the_last_counts():
    beat("process_payouts", seconds_ago=20, handled=5, failed=1)
    beat("process_payouts", seconds_ago=10, handled=2, failed=0)
    row = JobHeartbeat.objects.get(job="process_payouts")
    assert (row.passes, row.last_handled, row.last_failed, row.total_handled, row.total_failed) == (2, 2, 0, 7, 1)


# --- the loop outlives transient database errors -------------------------------------------------


def test_a_pass_failing_with_a_database_error_is_logged_with_its_traceback_and_the_loop_goes_on(monkeypatch, caplog):
    loop, sleeps = looping(monkeypatch)
    passes = ScriptedPasses(loop, OperationalError("server closed the connection unexpectedly"),
                            OperationalError("could not serialize access due to concurrent update"),
                            PassCounts(handled=4, failed=0))
    with caplog.at_level(logging.ERROR, logger="clicknback.jobs"):
        loop.run(passes, once=False)

    assert passes.calls == 3
    assert sleeps == [7, 7, 7]  # one interval after each failure, as after a good pass
    failures = [r for r in caplog.records if "the pass failed with a database error" in r.getMessage()]
    assert len(failures) == 2 and all(r.exc_info and r.exc_info[0] is OperationalError for r in failures)
    row = JobHeartbeat.objects.get(job="confirm_purchases")
    assert (row.passes, row.last_handled) == (1, 4)  # a failed pass is not a pass
    assert "could not serialize access" in row.last_error and row.last_error_at <= row.last_pass_at


def test_a_database_error_with_once_is_raised_so_a_cron_run_exits_non_zero(monkeypatch):
    loop, _ = looping(monkeypatch)
    with pytest.raises(OperationalError):
        loop.run(ScriptedPasses(loop, OperationalError("the database system is starting up")), once=True)
    assert not JobHeartbeat.objects.exists()


@pytest.mark.parametrize("error", [ProgrammingError('relation "purchases_purchase" does not exist'),
                                   ValueError("bad setting")])
def test_a_configuration_error_ends_the_loop(monkeypatch, error):
    loop, sleeps = looping(monkeypatch)
    passes = ScriptedPasses(loop, error, PassCounts(handled=1, failed=0))
    with pytest.raises(type(error)):
        loop.run(passes, once=False)
    assert passes.calls == 1 and sleeps == []


def test_a_failure_the_database_refused_to_record_is_recorded_after_the_next_good_pass(monkeypatch):
    loop, _ = looping(monkeypatch)
    beat("confirm_purchases", seconds_ago=100)
    real_record_failure = services.record_failure
    refusals = []

    def refuse_once(**kwargs):
        if not refusals:
            refusals.append(kwargs)
            raise OperationalError("connection refused")
        real_record_failure(**kwargs)

    monkeypatch.setattr(services, "record_failure", refuse_once)
    loop.run(ScriptedPasses(loop, OperationalError("terminating connection due to administrator command"),
                            PassCounts(handled=0, failed=0)), once=False)
    row = JobHeartbeat.objects.get(job="confirm_purchases")
    assert "terminating connection" in row.last_error and row.last_error_at == refusals[0]["at"]


def test_a_real_command_survives_a_database_error_in_its_pass(monkeypatch, capsys):
    # The commands hand their passes to the loop: a lost connection while purging idempotency keys
    # (before any payout is claimed) is one failed pass, not the end of process_payouts.
    from payouts import processing
    from payouts.management.commands import process_payouts

    calls = []

    def purge():
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        loop_instances[0].request_stop()
        return 0

    loop_instances = []
    real_loop = process_payouts.JobLoop

    def make_loop(**kwargs):
        loop = real_loop(**kwargs)
        loop._sleep = lambda seconds: None
        loop_instances.append(loop)
        return loop

    monkeypatch.setattr(processing.services, "purge_expired_idempotency_keys", purge)
    monkeypatch.setattr(process_payouts, "JobLoop", make_loop)
    out = io.StringIO()
    call_command("process_payouts", "--interval", "5", stdout=out)
    assert len(calls) == 2 and out.getvalue().count("process_payouts: ") == 1
    assert JobHeartbeat.objects.get(job="process_payouts").passes == 1


# --- jobs_status and its exit codes ----------------------------------------------------------------------


def test_jobs_status_exits_0_when_every_job_passed_within_three_intervals():
    beat("confirm_purchases", seconds_ago=170, interval=60, handled=3, failed=1)  # 2m50s < 3 × 60 s
    beat("process_payouts", seconds_ago=5, interval=10)
    code, out = jobs_status()
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("confirm_purchases: OK — last pass ") and "handled 3, failed 1, interval 60s" in lines[0]
    assert lines[1].startswith("process_payouts: OK")


def test_jobs_status_exits_1_when_a_job_is_older_than_three_intervals():
    beat("confirm_purchases", seconds_ago=10)
    beat("process_payouts", seconds_ago=31, interval=10)
    code, out = jobs_status()
    assert code == 1
    assert "confirm_purchases: OK" in out and "process_payouts: STALE" in out and "stale after 30s" in out


def test_jobs_status_exits_1_when_a_job_never_ran():
    beat("process_payouts", seconds_ago=1)
    code, out = jobs_status()
    assert code == 1 and "confirm_purchases: NEVER RAN — no pass recorded" in out


def test_jobs_status_of_one_job_ignores_the_others():
    beat("process_payouts", seconds_ago=1)
    assert jobs_status("--job", "process_payouts")[0] == 0
    assert jobs_status("--job", "confirm_purchases")[0] == 1


def test_jobs_status_shows_a_database_error_newer_than_the_last_pass():
    beat("process_payouts", seconds_ago=30)
    services.record_failure(job="process_payouts", at=timezone.now(), error="OperationalError: connection refused")
    code, out = jobs_status("--job", "process_payouts")
    assert code == 0 and "last error" in out and "connection refused" in out


def test_jobs_status_with_an_unknown_job_is_a_usage_error_with_exit_code_2():
    with pytest.raises(CommandError) as raised:
        call_command("jobs_status", "--job", "send_newsletters")
    assert raised.value.returncode == 2 and "Unknown job send_newsletters" in str(raised.value)


def test_jobs_status_exits_2_when_the_database_cannot_be_reached():
    # A real process against a port nobody listens on: the status is unknown, not "stale".
    env = manage_py_env(DATABASE_URL="postgres://nobody@127.0.0.1:9/nothing", DB_CONNECT_TIMEOUT="1")
    result = subprocess.run([sys.executable, "manage.py", "jobs_status"], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Cannot read the job status" in result.stderr


def test_job_health_uses_the_interval_each_job_runs_with():
    beat("confirm_purchases", seconds_ago=100, interval=30)  # 100 s > 3 × 30 s
    beat("process_payouts", seconds_ago=100, interval=3600)
    states = {h.job: h.state for h in job_health(now=timezone.now())}
    assert states == {"confirm_purchases": JobState.STALE, "process_payouts": JobState.OK}
