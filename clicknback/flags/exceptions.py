"""Domain errors of feature flags (api.md §11)."""

from rest_framework import status

from clicknback.errors import DomainError


class FeatureFlagScopeIdRequired(DomainError):
    code = "FEATURE_FLAG_SCOPE_ID_REQUIRED"
    status = status.HTTP_422_UNPROCESSABLE_ENTITY

    def __init__(self, scope_type: str):
        super().__init__(f"scope_id is required for scope_type '{scope_type}'.", details={"scope_type": scope_type})


class FeatureFlagNotFound(DomainError):
    code = "FEATURE_FLAG_NOT_FOUND"
    status = status.HTTP_404_NOT_FOUND

    def __init__(self, key: str, scope_type: str, scope_id):
        super().__init__(
            f"No feature flag '{key}' for scope {scope_type}.",
            details={"key": key, "scope_type": scope_type, "scope_id": str(scope_id) if scope_id else None},
        )
