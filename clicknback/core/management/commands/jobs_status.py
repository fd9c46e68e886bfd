"""`manage.py jobs_status [--job NAME …]`: is each batch job loop alive? For a cron check or a
container health check.

One line per job: its state, last pass (UTC) and age, items handled and failed in that pass, its
interval, and the last database error if any. A job is stale when its last pass is older than three
of its intervals (the interval the worker runs with, recorded by every pass).

Exit codes: 0 every job checked passed within three intervals; 1 at least one is stale or never
ran; 2 the status could not be read (database unreachable) or an unknown job was named."""

import datetime as dt
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import Error as DatabaseError
from django.utils import timezone

from clicknback.core.selectors import JobState, job_health, monitored_jobs

EXIT_OK, EXIT_UNHEALTHY, EXIT_UNKNOWN = 0, 1, 2


def describe(health) -> str:
    """The line `jobs_status` prints for one job (also used by the dashboard's tests)."""
    label = health.state.upper()
    if health.heartbeat is None:
        return f"{health.job}: {label} — no pass recorded (interval {health.interval_seconds}s)"
    beat = health.heartbeat
    line = (f"{health.job}: {label} — last pass {beat.last_pass_at.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%SZ} "
            f"({health.age_text} ago), handled {beat.last_handled}, failed {beat.last_failed}, "
            f"interval {health.interval_seconds}s, stale after {health.stale_after_text}")
    if beat.last_error_at and beat.last_error_at > beat.last_pass_at:
        line += f"; last error {beat.last_error_at.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%SZ}: {beat.last_error}"
    return line


class Command(BaseCommand):
    help = "Show when each batch job last ran; exit 1 when one is stale or never ran, 2 when unknown."

    def add_arguments(self, parser):
        parser.add_argument("--job", action="append", dest="jobs", metavar="NAME",
                            help=f"Check only this job (repeatable): {', '.join(sorted(monitored_jobs()))}.")

    def handle(self, *args, jobs, **options):
        known = monitored_jobs()
        unknown = sorted(set(jobs or []) - set(known))
        if unknown:
            raise CommandError(f"Unknown job {', '.join(unknown)}; known: {', '.join(sorted(known))}.",
                               returncode=EXIT_UNKNOWN)
        try:
            health = job_health(now=timezone.now(), jobs=jobs)
        except DatabaseError as exc:
            raise CommandError(f"Cannot read the job status: {str(exc).strip()}", returncode=EXIT_UNKNOWN) from exc
        for item in health:
            self.stdout.write(describe(item))
        if any(item.state != JobState.OK for item in health):
            sys.exit(EXIT_UNHEALTHY)
