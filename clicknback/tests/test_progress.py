"""Long commands show progress on a terminal only (issue 10): a pipe or a log gets no progress noise,
and every command ends with its one summary line."""

import io
import os
import pty
import select
import subprocess
import sys

import pytest

from clicknback.progress import Progress
from clicknback.testing import PROJECT_ROOT, manage_py_env

CONTROL = ("\r", "\x1b[")


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_on_a_terminal_the_line_is_drawn_in_place_and_erased_at_the_end():
    terminal = FakeTerminal()
    with Progress("seed_demo", total=4, unit="purchases", stream=terminal, min_interval=0, tick=0) as progress:
        progress.advance()
        progress.advance(2)
    drawn = terminal.getvalue()
    assert "\r\x1b[Kseed_demo: 1/4 purchases (25%), 0s" in drawn
    assert "\r\x1b[Kseed_demo: 3/4 purchases (75%), 0s" in drawn
    assert drawn.endswith("\r\x1b[K")  # erased: the summary line starts clean
    assert "\n" not in drawn


def test_the_ticker_moves_the_elapsed_time_while_one_step_runs():
    terminal = FakeTerminal()
    progress = Progress("reconcile_wallets", stream=terminal, tick=0.01)
    progress.set_phase("checking")
    import time

    time.sleep(0.1)
    progress.close()
    assert terminal.getvalue().count("reconcile_wallets: checking 0 items") >= 3


def test_nothing_is_written_when_the_stream_is_not_a_terminal():
    pipe = io.StringIO()
    with Progress("seed_demo", total=10, stream=pipe, min_interval=0, tick=0.01) as progress:
        for _ in range(10):
            progress.advance()
        progress.set_phase("writing")
    assert pipe.getvalue() == ""


def test_counting_checks_counts_one_item_per_check_after_the_first():
    progress = Progress("job", total=5, stream=io.StringIO())
    should_stop = progress.counting_checks(lambda: False)
    for _ in range(4):  # the pass asks before each of 3 claims and once more, then stops
        assert should_stop() is False
    assert progress.done == 3


def run_piped(command, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", command, *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, env=manage_py_env(), timeout=120)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("command, args, summary", [
    ("reconcile_wallets", [], "Checked 2 wallets, 0 mismatches."),
    ("confirm_purchases", ["--once"], "confirm_purchases: claimed=0 confirmed=0"),
    ("process_payouts", ["--once"], "process_payouts: "),
])
def test_piped_output_has_no_progress_noise_and_ends_with_the_summary_line(command, args, summary):
    from accounts.tests.factories import UserFactory

    UserFactory.create_batch(2)
    result = run_piped(command, *args)
    assert result.returncode == 0, result.stderr
    for stream in (result.stdout, result.stderr):
        assert not any(code in stream for code in CONTROL), stream
    assert result.stdout.splitlines()[-1].startswith(summary), result.stdout


@pytest.mark.django_db(transaction=True)
def test_on_a_real_terminal_reconcile_wallets_draws_progress_then_prints_the_summary():
    from accounts.tests.factories import UserFactory

    UserFactory.create_batch(2)
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "manage.py", "reconcile_wallets"], cwd=PROJECT_ROOT,
                               env=manage_py_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=follower)
    os.close(follower)
    seen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the command closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    stdout, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    assert b"reconcile_wallets: checking balances against the ledger" in seen and b"\x1b[K" in seen
    assert stdout.decode().splitlines()[-1] == "Checked 2 wallets, 0 mismatches."
