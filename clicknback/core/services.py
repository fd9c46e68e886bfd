"""Writes of the shared floor: the job heartbeat (one upsert per pass, safe for any number of workers)."""

import datetime as dt
import os
import socket

from django.db import connection

from clicknback.core.models import JobHeartbeat

_TABLE = JobHeartbeat._meta.db_table


def _worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def record_pass(*, job: str, interval_seconds: int, started_at: dt.datetime, finished_at: dt.datetime,
                handled: int, failed: int) -> None:
    """A pass of `job` ended: overwrite its last pass, add to its totals. One statement (INSERT … ON
    CONFLICT DO UPDATE), so two workers finishing at once never lose a pass nor collide on the insert."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {_TABLE} (job, interval_seconds, last_pass_started_at, last_pass_at, last_handled,
                                  last_failed, last_worker, passes, total_handled, total_failed, last_error)
            VALUES (%s, %s, %s, %s, %s, %s, %s, 1, %s, %s, '')
            ON CONFLICT (job) DO UPDATE SET
                interval_seconds = EXCLUDED.interval_seconds,
                last_pass_started_at = EXCLUDED.last_pass_started_at,
                last_pass_at = EXCLUDED.last_pass_at,
                last_handled = EXCLUDED.last_handled,
                last_failed = EXCLUDED.last_failed,
                last_worker = EXCLUDED.last_worker,
                passes = {_TABLE}.passes + 1,
                total_handled = {_TABLE}.total_handled + EXCLUDED.total_handled,
                total_failed = {_TABLE}.total_failed + EXCLUDED.total_failed
            """,
            [job, interval_seconds, started_at, finished_at, handled, failed, _worker(), handled, failed],
        )


def record_failure(*, job: str, at: dt.datetime, error: str) -> bool:
    """A pass of `job` ended in an error (R-221). Changes only the error columns: a failed pass is not
    a pass, so a job failing every time turns stale. False when the job has no row yet to note it on."""
    return JobHeartbeat.objects.filter(job=job).update(last_error=error[:2000], last_error_at=at) > 0
