"""The one error envelope of api.md §0.3, for domain errors and for DRF's own exceptions."""

import logging
from datetime import UTC, datetime

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response

from clicknback.logging import current_request_id

logger = logging.getLogger("clicknback.errors")

VALIDATION_MESSAGE = "Request validation failed."
INTERNAL_ERROR_MESSAGE = "Unexpected server error; please retry later."


class DomainError(Exception):
    """Base of every business error: a stable code, an HTTP status, a message and details."""

    code = "DOMAIN_ERROR"
    status = status.HTTP_400_BAD_REQUEST
    message = "The request cannot be processed."

    def __init__(self, message: str | None = None, *, details: dict | None = None, headers=None):
        self.message = message or self.message
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(self.message)

    def as_body(self) -> dict:
        return envelope(self.code, self.message, self.details)


class InvariantBroken(DomainError):
    """A bug upstream caught by a last-line check (e.g. a balance going negative). Never answered with
    its own code: the client gets the standard 500 envelope; the handler logs it at ERROR with its
    details, for the on-call engineer."""

    code = "INVARIANT_BROKEN"
    status = status.HTTP_500_INTERNAL_SERVER_ERROR

    def log_context(self) -> str:
        return ", ".join(f"{key}={value}" for key, value in self.details.items())


class ValidationFailed(DomainError):
    """400 VALIDATION_ERROR raised by hand (query parameters, headers) with violations."""

    code = "VALIDATION_ERROR"
    message = VALIDATION_MESSAGE

    def __init__(self, violations: list[dict], message: str | None = None):
        super().__init__(message, details={"violations": violations})

    @staticmethod
    def from_serializer(serializer) -> list[dict]:
        """The violations of an invalid serializer, to merge with header or query problems."""
        return flatten_violations(serializer.errors)


class NotFound(DomainError):
    code = "NOT_FOUND"
    status = status.HTTP_404_NOT_FOUND

    def __init__(self, resource_type: str, resource_id, *, message: str | None = None, **extra):
        super().__init__(
            message or f"{resource_type.capitalize()} '{resource_id}' not found.",
            details={"resource_type": resource_type, "resource_id": str(resource_id), **extra},
        )


class Forbidden(DomainError):
    code = "FORBIDDEN"
    status = status.HTTP_403_FORBIDDEN
    message = "You are not allowed to do this."


class AuthError(DomainError):
    """A 401 that tells the client to authenticate (WWW-Authenticate: Bearer)."""

    status = status.HTTP_401_UNAUTHORIZED

    def __init__(self, code: str, message: str, details: dict | None = None):
        self.code = code
        super().__init__(message, details=details, headers={"WWW-Authenticate": "Bearer"})


class TokenAuthFailed(drf_exceptions.AuthenticationFailed):
    """A 401 of api.md §0.2 (INVALID_TOKEN, EXPIRED_TOKEN, USER_INACTIVE) raised while authenticating."""

    def __init__(self, code: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.error_code = code
        self.error_details = details or {}


def envelope(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def violation(field: str, reason: str) -> dict:
    return {"field": field, "reason": reason}


def flatten_violations(detail, prefix: str = "") -> list[dict]:
    """Turn DRF's nested error structure into api.md §0.4 violations (dotted field names)."""
    if isinstance(detail, dict):
        found = []
        for key, value in detail.items():
            name = "body" if key == "non_field_errors" and not prefix else key
            found.extend(flatten_violations(value, f"{prefix}.{name}" if prefix else str(name)))
        return found
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return [violation(prefix or "body", str(item)) for item in detail]
        found = []
        for index, item in enumerate(detail):
            found.extend(flatten_violations(item, f"{prefix}.{index}" if prefix else str(index)))
        return found
    return [violation(prefix or "body", str(detail))]


def internal_error_body() -> dict:
    return envelope(
        "INTERNAL_SERVER_ERROR",
        INTERNAL_ERROR_MESSAGE,
        {
            "request_id": current_request_id(),
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        },
    )


def method_not_allowed_body(allowed) -> dict:
    methods = sorted({m.upper() for m in allowed} - {"OPTIONS", "HEAD"})
    return envelope("METHOD_NOT_ALLOWED", "Method not allowed on this route.", {"allowed": methods})


def payload_too_large_body(max_bytes: int) -> dict:
    return envelope(
        "PAYLOAD_TOO_LARGE", f"Request body exceeds {max_bytes} bytes.", {"max_bytes": max_bytes}
    )


def _respond(body: dict, status_code: int, headers: dict | None = None) -> Response:
    response = Response(body, status=status_code)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def exception_handler(exc, context):
    """DRF exception handler: every exception becomes the envelope; unknown ones a logged 500."""
    from django.conf import settings
    from rest_framework.views import set_rollback  # imported late: rest_framework.views imports auth classes

    from clicknback import outage  # imports this module's envelope()

    set_rollback()
    if outage.is_database_unavailable(exc):
        # an outage is a 503 with Retry-After, logged once at WARNING, no traceback.
        outage.log_unavailable(context["request"], exc)
        response = _respond(outage.api_body(), 503, {"Retry-After": str(outage.RETRY_AFTER_SECONDS)})
        response._has_been_logged = True
        return response
    if isinstance(exc, InvariantBroken):
        logger.error("%s (%s): %s", exc.code, exc.log_context(), exc.message, exc_info=exc)
        response = _respond(internal_error_body(), 500)
        response._has_been_logged = True  # logged just above, with what the on-call engineer needs
        return response
    if isinstance(exc, DomainError):
        return _respond(exc.as_body(), exc.status, exc.headers)
    if isinstance(exc, drf_exceptions.ValidationError):
        return _respond(
            envelope("VALIDATION_ERROR", VALIDATION_MESSAGE, {"violations": flatten_violations(exc.detail)}),
            400,
        )
    if isinstance(exc, drf_exceptions.ParseError):
        return _respond(
            envelope(
                "VALIDATION_ERROR",
                "Request body is not valid JSON.",
                {"violations": [violation("body", str(exc.detail))]},
            ),
            400,
        )
    if isinstance(exc, TokenAuthFailed):
        return _respond(
            envelope(exc.error_code, str(exc.detail), exc.error_details), 401, {"WWW-Authenticate": "Bearer"}
        )
    if isinstance(exc, (drf_exceptions.NotAuthenticated, drf_exceptions.AuthenticationFailed)):
        return _respond(
            envelope("INVALID_TOKEN", "Invalid or missing access token."),
            401,
            {"WWW-Authenticate": "Bearer"},
        )
    if isinstance(exc, (drf_exceptions.PermissionDenied, DjangoPermissionDenied)):
        return _respond(envelope("FORBIDDEN", "You are not allowed to do this."), 403)
    if isinstance(exc, (drf_exceptions.NotFound, Http404)):
        return _respond(envelope("NOT_FOUND", "Resource not found."), 404)
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        view = context.get("view")
        allowed = getattr(view, "allowed_methods", []) if view is not None else []
        return _respond(method_not_allowed_body(allowed), 405)
    if isinstance(exc, drf_exceptions.UnsupportedMediaType):
        return _respond(
            envelope("UNSUPPORTED_MEDIA_TYPE", "Request body must be sent as application/json."), 415
        )
    if isinstance(exc, drf_exceptions.Throttled):
        wait = max(1, int(exc.wait or 1))
        return _respond(
            envelope("RATE_LIMITED", "Too many requests; retry later.", {"retry_after_seconds": wait}),
            429,
            {"Retry-After": str(wait)},
        )
    if isinstance(exc, RequestDataTooBig):
        return _respond(payload_too_large_body(settings.MAX_REQUEST_BODY_BYTES), 413)
    if isinstance(exc, drf_exceptions.APIException):
        return _respond(envelope(str(exc.get_codes()).upper(), str(exc.detail)), exc.status_code)
    logger.exception("Unhandled error in %s", context.get("view").__class__.__name__)
    return _respond(internal_error_body(), 500)
