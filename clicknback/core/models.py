"""Tables of the shared floor that are not business data."""

from django.db import models


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
