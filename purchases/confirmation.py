"""The purchase confirmation job (R-170…R-176): claim one pending purchase at a time with
SKIP LOCKED, verify it, confirm / reject / defer it, commit — so workers can run side by side."""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from clicknback.audit.services import Actor
from clicknback.flags.selectors import flags_enabled_for
from purchases import services
from purchases.models import Purchase, PurchaseStatus
from purchases.verification import Verifier, get_verifier

logger = logging.getLogger("clicknback.jobs.confirm_purchases")

AUTO_CONFIRM_FLAG = "purchase_auto_confirm"


def no_match_reason(attempts: int) -> str:
    return f"No matching bank movement after {attempts} verification attempts."


@dataclass
class PassSummary:
    claimed: int = 0
    confirmed: int = 0
    rejected: int = 0
    deferred: int = 0
    skipped_by_flag: int = 0
    errors: int = 0
    handled_ids: list = field(default_factory=list)

    def __str__(self):
        return (
            f"claimed={self.claimed} confirmed={self.confirmed} rejected={self.rejected} "
            f"deferred={self.deferred} skipped_by_flag={self.skipped_by_flag} errors={self.errors}"
        )


def _claim_next(exclude_ids) -> Purchase | None:
    """R-171: the oldest due pending purchase no other worker holds; the lock lasts until commit."""
    now = timezone.now()
    return (
        Purchase.objects.select_for_update(skip_locked=True)
        .filter(status=PurchaseStatus.PENDING)
        .filter(Q(next_verification_at__isnull=True) | Q(next_verification_at__lte=now))
        .exclude(pk__in=exclude_ids)
        .order_by("created_at", "id")
        .first()
    )


def _defer(purchase: Purchase, interval: timedelta) -> None:
    purchase.next_verification_at = timezone.now() + interval
    purchase.save(update_fields=["next_verification_at", "verification_attempts", "last_verification_at", "updated_at"])


def process_one(purchase: Purchase, *, verifier: Verifier, interval: timedelta, summary: PassSummary) -> None:
    """Runs inside the claiming transaction, with the purchase row locked."""
    if not flags_enabled_for(AUTO_CONFIRM_FLAG, user_id=purchase.user_id, merchant_id=purchase.merchant_id):
        _defer(purchase, interval)  # not an attempt
        summary.skipped_by_flag += 1
        return
    purchase.verification_attempts += 1
    purchase.last_verification_at = timezone.now()
    purchase.save(update_fields=["verification_attempts", "last_verification_at", "updated_at"])
    verdict = verifier.verify(purchase)
    actor = Actor.system()
    if verdict.outcome == "confirmed":
        services.confirm_purchase(purchase_id=purchase.pk, actor=actor)
        summary.confirmed += 1
    elif verdict.outcome == "rejected":
        services.reject_purchase(purchase_id=purchase.pk, reason=verdict.reason or "Declined by verification.",
                                 actor=actor)
        summary.rejected += 1
    elif purchase.verification_attempts >= settings.PURCHASE_MAX_VERIFICATION_ATTEMPTS:
        services.reject_purchase(purchase_id=purchase.pk, reason=no_match_reason(purchase.verification_attempts),
                                 actor=actor)
        summary.rejected += 1
    else:
        _defer(purchase, interval)
        summary.deferred += 1


def run_pass(*, batch_size: int, interval: timedelta, verifier: Verifier | None = None,
             should_stop=lambda: False) -> PassSummary:
    """One pass: up to `batch_size` purchases, each claimed and committed on its own; an error on
    one rolls back only that one (R-171)."""
    verifier = verifier or get_verifier()
    summary = PassSummary()
    while summary.claimed < batch_size and not should_stop():
        purchase = None
        try:
            with transaction.atomic():
                purchase = _claim_next(summary.handled_ids)
                if purchase is None:
                    break
                summary.claimed += 1
                summary.handled_ids.append(purchase.pk)
                process_one(purchase, verifier=verifier, interval=interval, summary=summary)
        except Exception:
            summary.errors += 1
            if purchase is None:
                # The claim itself failed (database unreachable, …): retrying at once would only spin.
                logger.exception("Claiming the next purchase failed; this pass stops")
                break
            logger.exception("Purchase %s could not be processed; it stays pending", purchase.pk)
    logger.info("confirm_purchases pass: %s", summary)
    return summary
