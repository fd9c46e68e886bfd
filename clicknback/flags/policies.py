"""Pure rules of feature flags: key format (R-162), scope identity (R-163), resolution (R-160)."""

import re

from clicknback.errors import ValidationFailed, violation
from clicknback.flags.exceptions import FeatureFlagScopeIdRequired
from clicknback.flags.models import KEY_PATTERN, ScopeType

KEY_MAX_LENGTH = 100
_KEY = re.compile(KEY_PATTERN.removesuffix("$"))


def key_problem(key) -> str | None:
    """R-162: 1–100 chars of `^[a-z][a-z0-9_]*$` (fullmatch, so a trailing newline is refused too)."""
    if not isinstance(key, str) or not 1 <= len(key) <= KEY_MAX_LENGTH or not _KEY.fullmatch(key):
        return "Must be 1 to 100 characters: a lowercase letter, then lowercase letters, digits or '_'."
    return None


def ensure_scope(scope_type: str, scope_id) -> None:
    """R-163: scope_id required for merchant/user scopes (422) and refused for global (400)."""
    if scope_type not in ScopeType.values:
        raise ValidationFailed([violation("scope_type", f"Must be one of: {', '.join(ScopeType.values)}.")])
    if scope_type == ScopeType.GLOBAL and scope_id is not None:
        raise ValidationFailed([violation("scope_id", "Must be absent or null when scope_type is global.")])
    ensure_scope_id_present(scope_type, scope_id)


def ensure_scope_id_present(scope_type: str, scope_id) -> None:
    """R-163: a merchant or user scope names its entity (422 FEATURE_FLAG_SCOPE_ID_REQUIRED)."""
    if scope_type != ScopeType.GLOBAL and scope_id is None:
        raise FeatureFlagScopeIdRequired(scope_type)


def resolve(*, scoped: bool | None, global_: bool | None) -> bool:
    """R-160: the scoped record, else the global record, else true (fail-open)."""
    if scoped is not None:
        return scoped
    if global_ is not None:
        return global_
    return True
