"""Bearer access tokens (R-16, R-19, api.md §0.2): signature and expiry first, then the user as
the database knows it now — a deleted user is INVALID_TOKEN, an inactive one USER_INACTIVE."""

from rest_framework.authentication import BaseAuthentication
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError

from accounts.selectors import find_user
from accounts.tokens import AccessToken
from clicknback.errors import TokenAuthFailed
from clicknback.fields import parse_uuid

INVALID_TOKEN_MESSAGE = "Invalid or missing access token."


def invalid_token() -> TokenAuthFailed:
    return TokenAuthFailed("INVALID_TOKEN", INVALID_TOKEN_MESSAGE)


class BearerTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION")
        if header is None:
            return None
        scheme, _, raw_token = header.partition(" ")
        if scheme.lower() != "bearer" or not raw_token.strip() or " " in raw_token.strip():
            raise invalid_token()
        try:
            token = AccessToken(raw_token.strip())
        except ExpiredTokenError:
            raise TokenAuthFailed("EXPIRED_TOKEN", "Access token expired; refresh it.")
        except TokenError:
            raise invalid_token()
        user_id = parse_uuid(token.get("user_id"))
        if user_id is None or "iat" not in token:
            raise invalid_token()
        user = find_user(user_id)
        if user is None:
            raise invalid_token()
        if not user.is_active:
            raise TokenAuthFailed("USER_INACTIVE", "User account is inactive.", {"user_id": str(user.id)})
        return user, token

    def authenticate_header(self, request):
        return "Bearer"
