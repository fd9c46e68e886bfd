"""Write use cases of feature flags: the upsert of R-161 and the delete of R-165, both audited."""

from uuid import UUID

from django.db import IntegrityError, transaction

from clicknback.audit import services as audit
from clicknback.audit.models import AuditAction
from clicknback.audit.services import Actor
from clicknback.errors import ValidationFailed, violation
from clicknback.flags import policies
from clicknback.flags.exceptions import FeatureFlagNotFound
from clicknback.flags.models import FeatureFlag, ScopeType

DESCRIPTION_MAX_LENGTH = 500


class _Keep:
    def __repr__(self):
        return "KEEP"


KEEP = _Keep()  # `description` omitted: an update keeps the stored one (api.md §11)


def _validate(key: str, scope_type: str, scope_id) -> None:
    problem = policies.key_problem(key)
    if problem:
        raise ValidationFailed([violation("key", problem)])
    policies.ensure_scope(scope_type, scope_id)


def _identity(key: str, scope_type: str, scope_id) -> dict:
    return {"key": key, "scope_type": scope_type, "scope_id": scope_id}


def _state(flag: FeatureFlag) -> dict:
    return {"enabled": flag.enabled, "description": flag.description}


def _audit_details(key: str, scope_type: str, scope_id, **changes) -> dict:
    return {"key": key, "scope_type": scope_type, "scope_id": str(scope_id) if scope_id else None, **changes}


def set_flag(*, key: str, enabled: bool, scope_type: str = ScopeType.GLOBAL, scope_id: UUID | None = None,
             description: str | None | _Keep = KEEP, actor: Actor) -> tuple[FeatureFlag, bool]:
    """R-161 upsert on (key, scope_type, scope_id); returns (flag, changed).

    FEATURE_FLAG_SET with the state before (null when created) and after (R-165). Setting the
    values a flag already has changes nothing and writes no audit row. Two racing creates of one
    identity never fail: the loser of the unique index retries as an update."""
    _validate(key, scope_type, scope_id)
    if isinstance(description, str) and (len(description) > DESCRIPTION_MAX_LENGTH or "\x00" in description):
        raise ValidationFailed([violation("description", "Must be at most 500 characters, without NUL.")])
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _upsert(key, enabled, scope_type, scope_id, description, actor)
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def _upsert(key, enabled, scope_type, scope_id, description, actor) -> tuple[FeatureFlag, bool]:
    flag = FeatureFlag.objects.select_for_update().filter(**_identity(key, scope_type, scope_id)).first()
    if flag is None:
        before = None
        flag = FeatureFlag(
            **_identity(key, scope_type, scope_id), enabled=enabled,
            description=None if description is KEEP else description,
        )
        flag.save(force_insert=True)  # a concurrent create of this identity raises IntegrityError here
    else:
        before = _state(flag)
        flag.enabled = enabled
        if description is not KEEP:
            flag.description = description
        if _state(flag) == before:
            return flag, False
        flag.save(update_fields=["enabled", "description", "updated_at"])
    audit.record(
        actor=actor,
        action=AuditAction.FEATURE_FLAG_SET,
        resource_type="feature_flag",
        resource_id=flag.id,
        details=_audit_details(key, scope_type, scope_id, before=before, after=_state(flag)),
    )
    return flag, True


def delete_flag(*, key: str, scope_type: str, scope_id: UUID | None, actor: Actor) -> None:
    """Delete exactly one record (R-165: resolution falls back per R-160); FEATURE_FLAG_DELETED."""
    _validate(key, scope_type, scope_id)
    with transaction.atomic():
        flag = FeatureFlag.objects.select_for_update().filter(**_identity(key, scope_type, scope_id)).first()
        if flag is None:
            raise FeatureFlagNotFound(key, scope_type, scope_id)
        audit.record(
            actor=actor,
            action=AuditAction.FEATURE_FLAG_DELETED,
            resource_type="feature_flag",
            resource_id=flag.id,
            details=_audit_details(key, scope_type, scope_id, before=_state(flag)),
        )
        flag.delete()
