"""Abuse limits of R-215, counted atomically in the database so every worker process and thread
sees one count (R-217).

Each check is ONE statement on a counter row per (scope, key): an upsert that increments the row
(or restarts it when its window has ended) and returns the new count, so N requests at the same
instant are counted N times — never read-then-write as DRF's cache-based history is. A window
starts at the first hit of a key and lasts the rate's period; hits past the limit are refused
until it ends, and `Retry-After` says when.
"""

import hashlib
import math
import random
import time

from django.conf import settings
from django.db import connection
from rest_framework.throttling import BaseThrottle

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# One check in this many also deletes the counters whose window has ended (cheap, indexed).
PURGE_ONE_IN = 500


def parse_rate(rate: str) -> tuple[int, int]:
    """"10/min" → (10, 60): DRF's rate syntax (the period's first letter: s, m, h or d)."""
    number, period = rate.split("/")
    return int(number), _PERIODS[period.strip()[0].lower()]


def _table() -> str:
    return connection.ops.quote_name("clicknback_throttle_counter")


def hit(*, scope: str, ident: str, period: int, now: float) -> tuple[int, float]:
    """Count one hit of `ident` in `scope`: (hits in the current window, when the window ends).

    Atomic on PostgreSQL and SQLite alike: concurrent inserts of a new key wait on the unique
    index and then update; the row lock of the update serializes increments."""
    table = _table()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (scope, ident, hits, window_ends_at) VALUES (%s, %s, 1, %s) "
            f"ON CONFLICT (scope, ident) DO UPDATE SET "
            f"hits = CASE WHEN {table}.window_ends_at <= %s THEN 1 ELSE {table}.hits + 1 END, "
            f"window_ends_at = CASE WHEN {table}.window_ends_at <= %s "
            f"THEN excluded.window_ends_at ELSE {table}.window_ends_at END "
            f"RETURNING hits, window_ends_at",
            [scope, ident, now + period, now, now],
        )
        hits, window_ends_at = cursor.fetchone()
    return hits, window_ends_at


def purge_expired(*, now: float) -> int:
    """Delete the counters whose window has ended (the next hit would restart them anyway)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {_table()} WHERE window_ends_at <= %s", [now])
        return cursor.rowcount


class CounterThrottle(BaseThrottle):
    """A limit of settings.THROTTLE_RATES[scope] per key; off with THROTTLING_ENABLED."""

    scope: str = ""
    timer = staticmethod(time.time)

    def __init__(self):
        self._wait: float | None = None

    def get_key(self, request, view) -> str | None:
        """Whose hits these are (None: not counted)."""
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        if not settings.THROTTLING_ENABLED:
            return True
        key = self.get_key(request, view)
        if key is None:
            return True
        return self.allow_key(key)

    def allow_key(self, key: str) -> bool:
        """Count one hit of `key` and say whether it is within the limit (for callers outside DRF)."""
        if not settings.THROTTLING_ENABLED:
            return True
        limit, period = parse_rate(settings.THROTTLE_RATES[self.scope])
        if len(key) > 128:  # an X-Forwarded-For value, say: bounded, still one key per value
            key = hashlib.sha256(key.encode()).hexdigest()
        now = self.timer()
        if random.randrange(PURGE_ONE_IN) == 0:
            purge_expired(now=now)
        hits, window_ends_at = hit(scope=self.scope, ident=key, period=period, now=now)
        if hits <= limit:
            return True
        self._wait = max(1, math.ceil(window_ends_at - now))
        return False

    def wait(self) -> float | None:
        return self._wait


class IpThrottle(CounterThrottle):
    def get_key(self, request, view):
        return self.get_ident(request)


class LoginIpThrottle(IpThrottle):
    scope = "login_ip"


class RegisterIpThrottle(IpThrottle):
    scope = "register_ip"


class RefreshIpThrottle(IpThrottle):
    scope = "refresh_ip"


class LoginEmailThrottle(CounterThrottle):
    """Per submitted email (trimmed, lower-cased), so one account cannot be guessed at from many IPs.

    Checked by the login views after the body is validated (reading the body in a throttle
    would turn malformed JSON into a different error)."""

    scope = "login_email"

    def __init__(self, email: str):
        super().__init__()
        self.email = email.strip().lower()

    def get_key(self, request, view):
        # Hashed: the key column is bounded, an email may be 254 characters.
        return hashlib.sha256(self.email.encode()).hexdigest()


class UserThrottle(CounterThrottle):
    """Per authenticated user."""

    def get_key(self, request, view):
        return str(request.user.pk)


class IngestUserThrottle(UserThrottle):
    scope = "ingest_user"


class PayoutUserThrottle(UserThrottle):
    scope = "payout_user"
