"""Reads of feature flags: R-160 resolution for the jobs and the evaluate endpoint, and the admin list."""

from uuid import UUID

from django.db.models import Q, QuerySet

from clicknback.flags import policies
from clicknback.flags.models import FeatureFlag, ScopeType


def is_enabled(key: str, scope_type: str = ScopeType.GLOBAL, scope_id: UUID | None = None) -> bool:
    """R-160 for one scope, in one query: the scoped record, else the global one, else true."""
    wanted = Q(scope_type=ScopeType.GLOBAL)
    if scope_type != ScopeType.GLOBAL and scope_id is not None:
        wanted |= Q(scope_type=scope_type, scope_id=scope_id)
    found = dict(FeatureFlag.objects.filter(wanted, key=key).values_list("scope_type", "enabled"))
    scoped = found.get(scope_type) if scope_type != ScopeType.GLOBAL else None
    return policies.resolve(scoped=scoped, global_=found.get(ScopeType.GLOBAL))


def flags_enabled_for(key: str, *, user_id: UUID, merchant_id: UUID) -> bool:
    """R-164: true only when `key` resolves to true for the user scope and for the merchant scope.

    One query fetches the key's global, user and merchant records together."""
    rows = FeatureFlag.objects.filter(
        Q(scope_type=ScopeType.GLOBAL)
        | Q(scope_type=ScopeType.USER, scope_id=user_id)
        | Q(scope_type=ScopeType.MERCHANT, scope_id=merchant_id),
        key=key,
    ).values_list("scope_type", "enabled")
    found = dict(rows)
    global_ = found.get(ScopeType.GLOBAL)
    return policies.resolve(scoped=found.get(ScopeType.USER), global_=global_) and policies.resolve(
        scoped=found.get(ScopeType.MERCHANT), global_=global_
    )


def list_flags(*, key: str | None = None, scope_type: str | None = None,
               scope_id: UUID | None = None) -> QuerySet[FeatureFlag]:
    """AND-combined filters, newest first, ties by id (api.md §11, §0.5)."""
    flags = FeatureFlag.objects.all()
    if key is not None:
        flags = flags.filter(key=key)
    if scope_type is not None:
        flags = flags.filter(scope_type=scope_type)
    if scope_id is not None:
        flags = flags.filter(scope_id=scope_id)
    return flags.order_by("-created_at", "id")
