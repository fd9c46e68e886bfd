"""Tables of the shared floor that are no app's business: the job loops' heartbeat, the throttle counters."""

from django.db import models


class JobHeartbeat(models.Model):
    """The last pass of one batch job (issue 10, job health): one row per job, overwritten by every
    pass of every worker running it. `jobs_status` and the liabilities dashboard call a job stale when
    its last pass is older than three of its intervals."""

    job = models.CharField(primary_key=True, max_length=64)
    interval_seconds = models.PositiveIntegerField()
    last_pass_started_at = models.DateTimeField()
    last_pass_at = models.DateTimeField()
    last_handled = models.PositiveIntegerField(default=0)
    last_failed = models.PositiveIntegerField(default=0)
    last_worker = models.CharField(max_length=255, blank=True)
    passes = models.PositiveBigIntegerField(default=0)
    total_handled = models.PositiveBigIntegerField(default=0)
    total_failed = models.PositiveBigIntegerField(default=0)
    # A pass that ended in a database error: recorded when the database takes the write again.
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job"]

    def __str__(self):
        return f"{self.job}: last pass {self.last_pass_at:%Y-%m-%d %H:%M:%S} UTC"


class ThrottleCounter(models.Model):
    """R-217: one row per (scope, key) counts the hits of the current window of that limit.

    Written only by `clicknback.throttling.counters.hit`, one atomic upsert per check; a row whose
    window has ended is restarted by the next hit, or deleted by `purge_expired`."""

    scope = models.CharField(max_length=32)
    ident = models.CharField(max_length=128)
    hits = models.PositiveIntegerField()
    window_ends_at = models.FloatField(help_text="Unix time (seconds) at which this window's count expires.")

    class Meta:
        db_table = "clicknback_throttle_counter"
        constraints = [models.UniqueConstraint(fields=["scope", "ident"], name="throttle_counter_scope_ident")]
        indexes = [models.Index(fields=["window_ends_at"], name="throttle_counter_window_end")]

    def __str__(self) -> str:
        return f"{self.scope}:{self.ident} = {self.hits}"
