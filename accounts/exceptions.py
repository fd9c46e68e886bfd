"""Domain errors of accounts (api.md §3–§4)."""

from rest_framework import status

from clicknback.errors import DomainError


class PasswordNotComplexEnough(DomainError):
    code = "PASSWORD_NOT_COMPLEX_ENOUGH"
    status = status.HTTP_400_BAD_REQUEST
    message = "Password is too weak."

    def __init__(self, reason: str):
        super().__init__(details={"violations": [{"field": "password", "reason": reason}]})


class EmailAlreadyRegistered(DomainError):
    code = "EMAIL_ALREADY_REGISTERED"
    status = status.HTTP_409_CONFLICT

    def __init__(self, email: str):
        super().__init__(f"Email '{email}' is already registered.", details={"email": email})


class InvalidEmail(DomainError):
    code = "VALIDATION_ERROR"
    status = status.HTTP_400_BAD_REQUEST

    def __init__(self, reason: str):
        super().__init__("Request validation failed.", details={"violations": [{"field": "email", "reason": reason}]})


class _AuthFailure(DomainError):
    status = status.HTTP_401_UNAUTHORIZED

    def __init__(self, message: str | None = None, details: dict | None = None):
        super().__init__(message, details=details, headers={"WWW-Authenticate": "Bearer"})


class InvalidCredentials(_AuthFailure):
    code = "INVALID_CREDENTIALS"
    message = "Invalid email or password."


class UserInactive(_AuthFailure):
    code = "USER_INACTIVE"
    message = "User account is inactive."


class InvalidRefreshToken(_AuthFailure):
    code = "INVALID_REFRESH_TOKEN"
    message = "Invalid or expired refresh token."


class TokenRevoked(_AuthFailure):
    code = "TOKEN_REVOKED"
    message = "Refresh token already used and revoked; log in again."


class AccountChangeRefused(DomainError):
    """Back-office role/activity change that R-24 forbids (self-change, last active admin)."""

    code = "ACCOUNT_CHANGE_REFUSED"
    status = status.HTTP_409_CONFLICT
