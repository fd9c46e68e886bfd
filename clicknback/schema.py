"""OpenAPI helpers: every endpoint documents its error statuses with their codes (api.md)."""

from collections import defaultdict

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
