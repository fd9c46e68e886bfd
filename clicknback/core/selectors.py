"""Reads of the shared floor: the health of the batch jobs (`jobs_status`, the liabilities dashboard)."""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings

from clicknback.core.models import JobHeartbeat

# A job whose last pass is older than this many of its intervals is stale (issue 10).
STALE_AFTER_INTERVALS = 3


def monitored_jobs() -> dict[str, int]:
    """The looping jobs and their default interval (seconds), used until a job has run once."""
    return {
        "confirm_purchases": settings.PURCHASE_CONFIRMATION_INTERVAL_SECONDS,
        "process_payouts": settings.PAYOUT_PROCESS_INTERVAL_SECONDS,
    }


def format_age(delta: dt.timedelta) -> str:
    """42s, 5m, 3h07m: how long ago, for people."""
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class JobState:
    OK = "ok"
    STALE = "stale"
    NEVER_RAN = "never ran"


@dataclass(frozen=True)
class JobHealth:
    job: str
    state: str
    interval_seconds: int
    heartbeat: JobHeartbeat | None
    age: dt.timedelta | None

    @property
    def healthy(self) -> bool:
        return self.state == JobState.OK

    @property
    def stale_after(self) -> dt.timedelta:
        return dt.timedelta(seconds=STALE_AFTER_INTERVALS * self.interval_seconds)

    @property
    def age_text(self) -> str:
        return format_age(self.age) if self.age is not None else ""

    @property
    def stale_after_text(self) -> str:
        return format_age(self.stale_after)


def job_health(*, now: dt.datetime, jobs=None) -> list[JobHealth]:
    """One JobHealth per monitored job (or per name in `jobs`), in name order; one query."""
    defaults = monitored_jobs()
    names = sorted(jobs if jobs is not None else defaults)
    beats = {beat.job: beat for beat in JobHeartbeat.objects.filter(job__in=names)}
    health = []
    for name in names:
        beat = beats.get(name)
        if beat is None:
            health.append(JobHealth(name, JobState.NEVER_RAN, defaults.get(name, 60), None, None))
            continue
        age = now - beat.last_pass_at
        stale = age > dt.timedelta(seconds=STALE_AFTER_INTERVALS * beat.interval_seconds)
        health.append(JobHealth(name, JobState.STALE if stale else JobState.OK, beat.interval_seconds, beat, age))
    return health
