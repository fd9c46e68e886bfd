"""The payout batch job (R-177…R-181): claim one approved (or stale processing) payout with SKIP
LOCKED and mark it processing (transaction 1), call the provider outside any transaction, then
finalize it (transaction 2). A worker killed in between leaves the payout `processing`; after
PAYOUT_STALE_PROCESSING_MINUTES the next run re-claims it, and the provider's idempotency by
payout id makes the retry safe."""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from clicknback.audit import services as audit
from clicknback.audit.models import AuditAction
from clicknback.audit.services import Actor
from clicknback.flags.selectors import is_enabled
from payouts import services
from payouts.models import Payout, PayoutStatus
from payouts.providers import PaymentProvider, get_provider

logger = logging.getLogger("clicknback.jobs.process_payouts")

AUTO_PROCESS_FLAG = "payout_auto_process"


@dataclass
class PayoutPassSummary:
    claimed: int = 0
    paid: int = 0
    failed: int = 0
    untouched: int = 0  # changed by an admin while the provider worked
    errors: int = 0
    paused: bool = False
    keys_purged: int = 0
    finished: list = field(default_factory=list)  # payouts paid or failed in this pass, for the CSV

    def __str__(self):
        if self.paused:
            return f"paused by feature flag {AUTO_PROCESS_FLAG}; keys_purged={self.keys_purged}"
        return (f"claimed={self.claimed} paid={self.paid} failed={self.failed} untouched={self.untouched} "
                f"errors={self.errors} keys_purged={self.keys_purged}")


def claimable():
    """R-178: approved payouts, and processing ones whose worker looks dead."""
    stale_before = timezone.now() - timedelta(minutes=settings.PAYOUT_STALE_PROCESSING_MINUTES)
    return Payout.objects.filter(
        Q(status=PayoutStatus.APPROVED) | Q(status=PayoutStatus.PROCESSING, processing_started_at__lt=stale_before)
    ).order_by("approved_at", "id")


def _claim_next(handled: list) -> Payout | None:
    """Transaction 1: lock one claimable payout nobody else holds and mark it processing (audited).

    The payout's id goes into `handled` as soon as it is locked, so a payout whose claim fails is
    not picked again in this pass (R-181)."""
    with transaction.atomic():
        payout = claimable().select_for_update(skip_locked=True).exclude(pk__in=handled).first()
        if payout is None:
            return None
        handled.append(payout.pk)
        if payout.status == PayoutStatus.APPROVED:
            services.apply_status(payout=payout, target=PayoutStatus.PROCESSING, actor=Actor.system())
        else:  # a stale claim is taken over: restart its clock, audited like a first claim
            previous_start = payout.processing_started_at
            payout.processing_started_at = timezone.now()
            payout.save(update_fields=["processing_started_at", "updated_at"])
            audit.record(
                actor=Actor.system(), action=AuditAction.PAYOUT_PROCESSING, resource_type="payout",
                resource_id=payout.pk,
                details={"from": PayoutStatus.PROCESSING, "to": PayoutStatus.PROCESSING,
                         "amount": f"{payout.amount:.2f}", "reclaimed": True,
                         "previous_processing_started_at": previous_start.isoformat() if previous_start else None},
            )
            logger.warning("Re-claiming payout %s stuck in processing since %s", payout.pk, previous_start)
        return payout


def _finalize(payout_id, result, summary: PayoutPassSummary) -> None:
    """Transaction 2 (R-180): apply the provider's answer if the payout is still processing."""
    with transaction.atomic():
        payout = services.lock_payout(payout_id)
        if payout.status != PayoutStatus.PROCESSING:
            summary.untouched += 1
            logger.warning("Payout %s became %s during the transfer; provider said %s — nothing changed",
                           payout.pk, payout.status, result)
            return
        if result.succeeded:
            services.apply_status(payout=payout, target=PayoutStatus.PAID, actor=Actor.system(),
                                  external_reference=result.external_reference)
            summary.paid += 1
        else:
            services.apply_status(payout=payout, target=PayoutStatus.FAILED, actor=Actor.system(),
                                  reason=result.failure_reason or "Transfer failed")
            summary.failed += 1
        summary.finished.append(payout)


def run_pass(*, batch_size: int, provider: PaymentProvider | None = None, should_stop=lambda: False) -> PayoutPassSummary:
    summary = PayoutPassSummary(keys_purged=services.purge_expired_idempotency_keys())
    if not is_enabled(AUTO_PROCESS_FLAG):
        summary.paused = True
        logger.info("process_payouts pass: %s", summary)
        return summary
    provider = provider or get_provider()
    handled: list = []
    while len(handled) < batch_size and not should_stop():
        claims_before = len(handled)
        payout = None
        try:
            payout = _claim_next(handled)
            if payout is None:
                break
            summary.claimed += 1
            result = provider.transfer(  # outside any transaction
                payout_id=str(payout.pk), user_id=str(payout.user_id), amount=payout.amount,
                currency=payout.currency, method=payout.method, details=payout.details,
            )
            _finalize(payout.pk, result, summary)
        except Exception:  # only this payout's current transaction is lost
            summary.errors += 1
            if len(handled) == claims_before:
                # Not even a row was selected (database unreachable, …): retrying at once would only spin.
                logger.exception("Claiming the next payout failed; this pass stops")
                break
            logger.exception("Payout %s could not be processed (%s)", handled[-1],
                             "left processing until it is stale" if payout is not None else "claim rolled back")
    logger.info("process_payouts pass: %s", summary)
    return summary


def dry_run(*, batch_size: int) -> list[Payout]:
    """What a pass would claim now, without locking or changing anything."""
    return list(claimable().select_related("user")[:batch_size])
