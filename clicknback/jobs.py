"""The shared loop of the batch jobs (rules.md §15): --once runs one pass; otherwise pass, sleep
--interval, repeat; SIGTERM/SIGINT finish the current item and exit 0.

R-221: a pass that fails with a transient database error (connection lost, server shutting down or
restarting, serialization failure or deadlock — Django's OperationalError and InterfaceError) is
logged with its traceback, the connection is closed, and the loop sleeps one interval and goes on.
Any other exception (a configuration error: a missing table, a bad setting) ends the loop. Each item
is claimed and committed in its own transaction, so a retried pass never processes an item twice.

Every pass that ends is recorded in the job's heartbeat row (`jobs_status`, the dashboard)."""

import logging
import signal
import threading
import time
import traceback
from dataclasses import dataclass

from django.db import Error as DatabaseError
from django.db import InterfaceError, OperationalError, connections
from django.utils import timezone

from clicknback.core import services as heartbeat

logger = logging.getLogger("clicknback.jobs")

# How often the sleep between passes looks at the stop flag: bounds how late a SIGTERM is noticed.
_SLEEP_SLICE_SECONDS = 0.2

# what a database outage or a lost race looks like to Django; the loop outlives these.
TRANSIENT_DATABASE_ERRORS = (OperationalError, InterfaceError)


@dataclass(frozen=True)
class PassCounts:
    """What one pass did: items it handled (claimed), and how many of them failed."""

    handled: int
    failed: int


def _close_connections(*, only_unusable: bool) -> None:
    """Drop this thread's database connections that cannot be trusted any more, so the next pass
    connects afresh. A connection inside an atomic block (a test's transaction) is left alone."""
    for conn in connections.all(initialized_only=True):
        if conn.in_atomic_block:
            continue
        try:
            if only_unusable:
                conn.close_if_unusable_or_obsolete()
            else:
                conn.close()
        except DatabaseError:  # closing a dead socket may complain; it is gone either way
            conn.connection = None


class JobLoop:
    def __init__(self, *, name: str, interval: int):
        self.name = name
        self.interval = interval
        # A plain attribute, not a threading.Event: the signal handler must take no lock. Event.set()
        # takes the Condition lock that Event.wait() may be holding in the interrupted main thread,
        # which deadlocks the worker instead of stopping it.
        self._stop = False
        # A failure the database refused to record at the time: written after the next good pass.
        self._unrecorded_failure: tuple | None = None

    def stop_requested(self) -> bool:
        return self._stop

    def request_stop(self) -> None:
        self._stop = True

    def _on_signal(self, signum, frame) -> None:
        self._stop = True

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stop:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(_SLEEP_SLICE_SECONDS, remaining))

    def _run_one_pass(self, one_pass) -> None:
        started_at = timezone.now()
        counts = one_pass()
        heartbeat.record_pass(job=self.name, interval_seconds=self.interval, started_at=started_at,
                              finished_at=timezone.now(), handled=counts.handled, failed=counts.failed)
        if self._unrecorded_failure:
            at, error = self._unrecorded_failure
            heartbeat.record_failure(job=self.name, at=at, error=error)
            self._unrecorded_failure = None

    def _note_failure(self, exc: BaseException) -> None:
        """Best effort: the database that just failed may still refuse the write."""
        at, error = timezone.now(), "".join(traceback.format_exception_only(exc)).strip()
        try:
            if not heartbeat.record_failure(job=self.name, at=at, error=error):
                self._unrecorded_failure = (at, error)  # the job's first pass: no row to note it on yet
        except DatabaseError as second:
            self._unrecorded_failure = (at, error)
            logger.warning("%s: could not record the failed pass either (%s)", self.name, str(second).strip())
            _close_connections(only_unusable=False)

    def run(self, one_pass, *, once: bool) -> None:
        """`one_pass()` returns PassCounts. With `once`, a database error is raised to the caller (a cron
        run exits non-zero); looping, it is logged and the next pass comes one interval later."""
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, self._on_signal)
        try:
            while not self._stop:
                try:
                    self._run_one_pass(one_pass)
                except TRANSIENT_DATABASE_ERRORS as exc:
                    logger.exception("%s: the pass failed with a database error; the next pass starts in %ss",
                                     self.name, self.interval)
                    _close_connections(only_unusable=False)
                    self._note_failure(exc)
                    if once:
                        raise
                # A pass that caught its own error (a failed claim) may leave a broken connection behind.
                _close_connections(only_unusable=True)
                if once:
                    return
                self._sleep(self.interval)
        finally:
            # A caller that outlives the loop (call_command in a test, a shell) gets its Ctrl-C back.
            for signum, handler in previous.items():
                signal.signal(signum, handler)
