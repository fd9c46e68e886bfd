"""Abuse limits of R-215, counted in the shared database cache so every worker sees one count."""

import hashlib

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class SettingsRateThrottle(SimpleRateThrottle):
    """A throttle whose rate comes from settings.THROTTLE_RATES[scope]; off with THROTTLING_ENABLED."""

    def get_rate(self):
        return settings.THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        if not settings.THROTTLING_ENABLED:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)


class IpThrottle(SettingsRateThrottle):
    def get_cache_key(self, request, view):
        return f"throttle:{self.scope}:{self.get_ident(request)}"


class LoginIpThrottle(IpThrottle):
    scope = "login_ip"


class RegisterIpThrottle(IpThrottle):
    scope = "register_ip"


class RefreshIpThrottle(IpThrottle):
    scope = "refresh_ip"


class LoginEmailThrottle(SettingsRateThrottle):
    """Per submitted email (lower-cased), so one account cannot be guessed at from many IPs.

    Checked by the login view after the body is validated (reading the body in a throttle
    would turn malformed JSON into a different error)."""

    scope = "login_email"

    def __init__(self, email: str):
        super().__init__()
        self.email = email.strip().lower()

    def get_cache_key(self, request, view):
        # Hashed: a 254-character email would overflow the cache key column, and the database
        # cache drops such writes silently (no count, no limit).
        return f"throttle:{self.scope}:{hashlib.sha256(self.email.encode()).hexdigest()}"


class UserThrottle(SettingsRateThrottle):
    """Per authenticated user."""

    def get_cache_key(self, request, view):
        return f"throttle:{self.scope}:{request.user.pk}"


class IngestUserThrottle(UserThrottle):
    scope = "ingest_user"


class PayoutUserThrottle(UserThrottle):
    scope = "payout_user"
