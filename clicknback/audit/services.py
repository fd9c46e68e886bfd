"""Writing the audit trail: one call per state-changing command, inside its transaction (R-190)."""

from dataclasses import dataclass
from uuid import UUID

from django.db import transaction

from clicknback.audit.models import ActorType, AuditLog, Outcome


@dataclass(frozen=True)
class Actor:
    """Who runs a command; the only difference between the API, back-office and job channels (R-193)."""

    type: str
    id: UUID | None = None

    @classmethod
    def of_user(cls, user) -> "Actor":
        """A signed-in caller: `admin` when their current role is admin, else `user`."""
        return cls(ActorType.ADMIN if user.is_admin else ActorType.USER, user.id)

    @classmethod
    def of_merchant(cls, merchant) -> "Actor":
        """A merchant calling its signed webhook (R-157)."""
        return cls(ActorType.MERCHANT, merchant.pk)

    @classmethod
    def system(cls) -> "Actor":
        return cls(ActorType.SYSTEM, None)


def record(
    *, actor: Actor, action: str, resource_type: str, resource_id, details: dict | None = None,
    outcome: str = Outcome.SUCCESS,
) -> AuditLog:
    return AuditLog.objects.create(
        actor_type=actor.type,
        actor_id=actor.id,
        action=action,
        resource_type=resource_type,
        resource_id=str(resource_id),
        outcome=outcome,
        details=details or {},
    )


def record_failure(*, actor: Actor, action: str, resource_type: str, resource_id, error_code: str,
                   details: dict | None = None) -> AuditLog:
    """R-192: a refused back-office action, written in its own transaction after the rollback."""
    with transaction.atomic():
        return record(
            actor=actor, action=action, resource_type=resource_type, resource_id=resource_id,
            outcome=Outcome.FAILURE, details={**(details or {}), "error_code": error_code},
        )
