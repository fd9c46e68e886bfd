"""Write use cases of payouts: request (with idempotency keys) and every status change of R-126.

Lock order (R-6, R-130): payout row first, then the wallet (inside wallets.services)."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from clicknback.audit import services as audit
from clicknback.audit.models import AuditAction
from clicknback.audit.services import Actor
from clicknback.errors import NotFound
from payouts import policies
from payouts.exceptions import IdempotencyKeyReused, InsufficientBalance, PayoutInvalidTransition, PayoutPolicyViolation
from payouts.models import COUNTED_STATUSES, Payout, PayoutIdempotencyKey, PayoutStatus
from wallets import services as wallets


@dataclass(frozen=True)
class PayoutResponse:
    """What the API answers: a fresh payout, or the replay of the first response (R-142)."""

    status: int
    body: str
    replayed: bool
    payout: Payout | None = None


def _key_ttl() -> timedelta:
    return timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)


def _claim_idempotency_key(*, user_id, key: str, fingerprint: str) -> tuple[PayoutIdempotencyKey | None, PayoutIdempotencyKey | None]:
    """R-145: insert the key row first (ON CONFLICT DO NOTHING). A concurrent request with the same
    key waits here on the unique index until the first one commits or rolls back.
    Returns (our new row, None) or (None, the live row of an earlier request)."""
    now = timezone.now()
    for _ in range(3):
        mine = PayoutIdempotencyKey(user_id=user_id, key=key, request_fingerprint=fingerprint, created_at=now)
        PayoutIdempotencyKey.objects.bulk_create([mine], ignore_conflicts=True)
        row = PayoutIdempotencyKey.objects.select_for_update().filter(user_id=user_id, key=key).first()
        if row is None:
            # The row we collided with was an expired key that a concurrent request deleted while we
            # waited for its lock; that request's fresh row is committed now: claim again to meet it.
            continue
        if row.pk == mine.pk:
            return row, None
        if row.created_at > now - _key_ttl():
            return None, row
        row.delete()  # expired — forget it and claim the key afresh
    raise RuntimeError("Idempotency key could not be claimed.")


def _policy_checks(*, user_id, amount: Decimal, now) -> list[dict]:
    counted = Payout.objects.filter(user_id=user_id, status__in=COUNTED_STATUSES)
    last_requested_at = counted.order_by("-requested_at").values_list("requested_at", flat=True).first()
    week_total = counted.filter(requested_at__gte=policies.week_start(now)).aggregate(t=Sum("amount"))["t"]
    return policies.policy_violations(
        amount=amount, now=now, last_requested_at=last_requested_at, week_total=week_total or Decimal("0.00"),
        min_amount=settings.PAYOUT_MIN_AMOUNT, min_interval=timedelta(hours=settings.PAYOUT_MIN_INTERVAL_HOURS),
        weekly_limit=settings.PAYOUT_WEEKLY_LIMIT,
    )


def request_payout(*, user, amount: Decimal, method: str, details: dict, idempotency_key: str | None,
                   actor: Actor, render: Callable[[Payout], str]) -> PayoutResponse:
    """R-121…R-128, R-140…R-146 in the order of R-128: idempotency key → wallet lock → policy
    (all violations at once) → balance → payout + `available −x` + audit, one transaction.
    `render` turns the payout into the response body stored for replays."""
    fingerprint = policies.request_fingerprint(amount=amount, method=method, details=details)
    with transaction.atomic():
        key_row = None
        if idempotency_key is not None:
            key_row, earlier = _claim_idempotency_key(user_id=user.pk, key=idempotency_key, fingerprint=fingerprint)
            if earlier is not None:
                if earlier.request_fingerprint != fingerprint:
                    raise IdempotencyKeyReused(idempotency_key)
                return PayoutResponse(status=earlier.response_status, body=earlier.response_body, replayed=True)
        wallet = wallets.lock_wallet(user.pk)
        now = timezone.now()
        if violations := _policy_checks(user_id=user.pk, amount=amount, now=now):
            raise PayoutPolicyViolation(violations)
        if amount > wallet.available_balance:
            raise InsufficientBalance(amount, wallet.available_balance)
        payout = Payout.objects.create(user=user, amount=amount, method=method, details=details,
                                       status=PayoutStatus.REQUESTED, requested_at=now)
        wallets.debit_for_payout(wallet=wallet, payout=payout, actor=actor)
        audit.record(
            actor=actor, action=AuditAction.PAYOUT_REQUESTED, resource_type="payout", resource_id=payout.pk,
            details={"amount": f"{amount:.2f}", "method": method, "idempotency_key": idempotency_key},
        )
        body = render(payout)
        if key_row is not None:
            key_row.payout = payout
            key_row.response_status = 201
            key_row.response_body = body
            key_row.save(update_fields=["payout", "response_status", "response_body"])
    return PayoutResponse(status=201, body=body, replayed=False, payout=payout)


_AUDIT_ACTIONS = {
    PayoutStatus.APPROVED: AuditAction.PAYOUT_APPROVED,
    PayoutStatus.PROCESSING: AuditAction.PAYOUT_PROCESSING,
    PayoutStatus.PAID: AuditAction.PAYOUT_PAID,
    PayoutStatus.FAILED: AuditAction.PAYOUT_FAILED,
    PayoutStatus.REJECTED: AuditAction.PAYOUT_REJECTED,
}


def lock_payout(payout_id) -> Payout:
    payout = Payout.objects.select_for_update().filter(pk=payout_id).first()
    if payout is None:
        raise NotFound("payout", payout_id)
    return payout


def apply_status(*, payout: Payout, target: str, actor: Actor, reason: str | None = None,
                 external_reference: str | None = None) -> bool:
    """R-127 effects on a payout the caller has locked. Returns False for a same-status no-op
    (R-200); raises PAYOUT_INVALID_TRANSITION outside R-126."""
    if payout.status == target:
        return False
    if target not in policies.ADMIN_TRANSITIONS[payout.status]:
        raise PayoutInvalidTransition(payout, target, policies.allowed_targets(payout.status))
    previous, now = payout.status, timezone.now()
    moved: dict = {}
    fields = ["status", "updated_at"]
    if target == PayoutStatus.APPROVED:
        payout.approved_at, payout.approved_by_id = now, actor.id
        fields += ["approved_at", "approved_by"]
    elif target == PayoutStatus.PROCESSING:
        payout.processing_started_at = now
        fields += ["processing_started_at"]
    elif target == PayoutStatus.PAID:
        payout.processed_at = now
        fields += ["processed_at"]
        if external_reference is not None:
            payout.external_reference = external_reference
            fields += ["external_reference"]
        wallets.record_payout_paid(payout=payout, actor=actor)
    else:  # failed or rejected: the money comes back
        payout.processed_at, payout.status_reason = now, reason
        fields += ["processed_at", "status_reason"]
        moved = wallets.return_payout(payout=payout, actor=actor)
    payout.status = target
    payout.save(update_fields=fields)
    audit.record(
        actor=actor, action=_AUDIT_ACTIONS[target], resource_type="payout", resource_id=payout.pk,
        details={"from": previous, "to": target, "amount": f"{payout.amount:.2f}", "reason": reason,
                 "external_reference": external_reference, **moved},
    )
    return True


def set_payout_status(*, payout_id, target: str, actor: Actor, reason: str | None = None,
                      external_reference: str | None = None) -> tuple[Payout, bool]:
    """PATCH /payouts/{id}/status and the back-office actions: one transaction, payout locked first.
    Returns the payout and whether it changed (False: it already had that status, R-126)."""
    with transaction.atomic():
        payout = lock_payout(payout_id)
        changed = apply_status(payout=payout, target=target, actor=actor, reason=reason,
                               external_reference=external_reference)
    return payout, changed


def change_payout_status(*, payout_id, target: str, actor: Actor, reason: str | None = None,
                         external_reference: str | None = None) -> Payout:
    """set_payout_status for callers that only need the payout after the change."""
    payout, _ = set_payout_status(payout_id=payout_id, target=target, actor=actor, reason=reason,
                                  external_reference=external_reference)
    return payout


def purge_expired_idempotency_keys() -> int:
    """R-146: keys older than the TTL are forgotten."""
    deleted, _ = PayoutIdempotencyKey.objects.filter(created_at__lt=timezone.now() - _key_ttl()).delete()
    return deleted
