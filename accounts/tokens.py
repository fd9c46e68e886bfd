"""JWT shapes of R-16/R-17 on top of simplejwt's token classes (HS256, JWT_SIGNING_KEY)."""

from datetime import timedelta

from django.conf import settings
from rest_framework_simplejwt import tokens


class AccessToken(tokens.AccessToken):
    """Claims: user_id, user_role, token_type="access", iat, exp, jti."""

    @property
    def lifetime(self):
        return timedelta(minutes=settings.ACCESS_TOKEN_LIFETIME_MINUTES)

    @classmethod
    def for_account(cls, user) -> "AccessToken":
        token = cls()
        token["user_id"] = str(user.id)
        token["user_role"] = user.role
        return token


class RefreshToken(tokens.Token):
    """Claims: user_id, token_type="refresh", iat, exp, jti. Recorded server-side by accounts.services."""

    token_type = "refresh"

    @property
    def lifetime(self):
        return timedelta(minutes=settings.REFRESH_TOKEN_LIFETIME_MINUTES)
