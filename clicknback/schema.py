"""OpenAPI helpers: every endpoint documents its error statuses with their codes (api.md)."""

from collections import defaultdict

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorEnvelope = inline_serializer(
    name="ErrorEnvelope",
    fields={
        "error": inline_serializer(
            name="ErrorBody",
            fields={
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "details": serializers.DictField(),
            },
        )
    },
)

AUTH_401 = (401, "INVALID_TOKEN, EXPIRED_TOKEN, USER_INACTIVE")
ADMIN_403 = (403, "FORBIDDEN")
VALIDATION_400 = (400, "VALIDATION_ERROR")


def error_responses(*entries: tuple[int, str]) -> dict:
    """{status: OpenApiResponse} for (status, "CODE_A, CODE_B") pairs; codes of one status merge."""
    by_status: dict[int, list[str]] = defaultdict(list)
    for status_code, codes in entries:
        by_status[status_code].append(codes)
    return {
        status_code: OpenApiResponse(ErrorEnvelope, description="Error codes: " + ", ".join(codes))
        for status_code, codes in sorted(by_status.items())
    }


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Documents clicknback.authentication.BearerTokenAuthentication as HTTP bearer (JWT)."""

    target_class = "clicknback.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


def strip_trailing_slashes(result, generator, request, public):
    """Routes accept both forms (api.md §0.1); the schema shows the canonical one, without '/'."""
    result["paths"] = {
        (path.rstrip("/") or "/"): operations for path, operations in result.get("paths", {}).items()
    }
    return result
