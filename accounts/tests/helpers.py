"""Small assertions and token tools shared by the accounts API tests."""

import re
from datetime import timedelta

import jwt
from django.conf import settings

from clicknback import testing

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
USERS = "/api/v1/users"
ME = "/api/v1/users/me"

DATETIME_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def error_of(response, status: int, code: str) -> dict:
    """The `error` object of an api.md §0.3 envelope, after checking status, code and shape
    (clicknback.testing.error_of), the JSON content type, a message and a details object."""
    error = testing.error_of(response, status, code)
    assert response["Content-Type"].startswith("application/json")
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)
    return error


def violations_of(response) -> dict[str, str]:
    """{field: reason} of a 400 VALIDATION_ERROR."""
    error = error_of(response, 400, "VALIDATION_ERROR")
    return {v["field"]: v["reason"] for v in error["details"]["violations"]}


def claims(raw_token: str) -> dict:
    return jwt.decode(raw_token, options={"verify_signature": False})


def sign(payload: dict, key: str | None = None) -> str:
    """A JWT signed with the server's key (or another one), for hand-made claims."""
    return jwt.encode(payload, key or settings.SIMPLE_JWT["SIGNING_KEY"], algorithm="HS256")


def with_foreign_signature(raw_token: str) -> str:
    """The same claims signed with a key the server does not know."""
    return sign(claims(raw_token), key="someone-elses-signing-key-of-32-bytes-or-more")


def with_tampered_payload(raw_token: str, **changes) -> str:
    """Claims changed while the original signature is kept."""
    header, _, signature = raw_token.split(".")
    forged = jwt.encode({**claims(raw_token), **changes}, "k" * 32, algorithm="HS256").split(".")[1]
    return f"{header}.{forged}.{signature}"


def expired(token, by: timedelta = timedelta(minutes=1)):
    """A simplejwt token whose exp lies `by` in the past (lifetime counted from an earlier time)."""
    token.set_exp(from_time=token.current_time - token.lifetime - by)
    return token
