"""Write use cases of offers: create and activate/deactivate (terms are immutable, R-48)."""

import datetime as dt
from decimal import Decimal

from django.db import IntegrityError, transaction

from clicknback.audit import services as audit
from clicknback.audit.models import AuditAction
from clicknback.audit.services import Actor
from clicknback.errors import NotFound, ValidationFailed, violation
from merchants.models import Merchant
from offers import policies, selectors
from offers.exceptions import ActiveOfferAlreadyExists, MerchantNotActive
from offers.models import Offer

CENT = Decimal("0.01")
TERM_FIELDS = ("cashback_type", "cashback_value", "start_date", "end_date", "monthly_cap")


def term_violations(*, cashback_type: str | None = None, cashback_value: Decimal | None = None,
                    start_date: dt.date | None = None, end_date: dt.date | None = None,
                    monthly_cap: Decimal | None = None) -> list[dict]:
    """R-41…R-43 on the terms that are known; None means missing or malformed (reported by the
    caller's own parsing), so one bad field never hides the others' problems (R-52, api.md §0.4)."""
    problems = []
    if cashback_type is not None and cashback_value is not None:
        if value_problem := policies.cashback_value_problem(cashback_type, cashback_value):
            problems.append(violation("cashback_value", value_problem))
    if monthly_cap is not None and (cap_problem := policies.monthly_cap_problem(monthly_cap)):
        problems.append(violation("monthly_cap", cap_problem))
    for field, reason in policies.window_problems(start_date, end_date, selectors.today_utc()).items():
        problems.append(violation(field, reason))
    return problems


def validate_terms(*, cashback_type: str, cashback_value: Decimal, start_date: dt.date, end_date: dt.date,
                   monthly_cap: Decimal) -> None:
    """R-41…R-43, every violation at once (R-52)."""
    problems = term_violations(cashback_type=cashback_type, cashback_value=cashback_value,
                               start_date=start_date, end_date=end_date, monthly_cap=monthly_cap)
    if problems:
        raise ValidationFailed(problems)


def _save_guarding_one_active(offer: Offer, **save_kwargs) -> None:
    try:
        with transaction.atomic():
            offer.save(**save_kwargs)
    except IntegrityError:
        # a concurrent activation won the partial unique index.
        other = selectors.active_offer_of(offer.merchant_id, excluding=offer.pk)
        raise ActiveOfferAlreadyExists(offer.merchant_id, other.pk if other else "unknown")


def create_offer(*, merchant_id, cashback_type: str, cashback_value: Decimal, start_date: dt.date,
                 end_date: dt.date, monthly_cap: Decimal, active: bool = True, actor: Actor) -> Offer:
    """R-52 order: field rules (400) → merchant exists (404) → merchant active (422) → one active (409)."""
    validate_terms(cashback_type=cashback_type, cashback_value=cashback_value, start_date=start_date,
                   end_date=end_date, monthly_cap=monthly_cap)
    # Stored, returned and audited as 2-place amounts ("20" is "20.00", api.md §0.1); never rounded.
    cashback_value, monthly_cap = cashback_value.quantize(CENT), monthly_cap.quantize(CENT)
    with transaction.atomic():
        merchant = Merchant.objects.filter(pk=merchant_id).first()
        if merchant is None:
            raise NotFound("merchant", merchant_id)
        if not merchant.active:
            raise MerchantNotActive(merchant_id)
        if active and (current := selectors.active_offer_of(merchant_id)) is not None:
            raise ActiveOfferAlreadyExists(merchant_id, current.pk)
        offer = Offer(
            merchant=merchant, cashback_type=cashback_type, cashback_value=cashback_value,
            start_date=start_date, end_date=end_date, monthly_cap_per_user=monthly_cap, active=active,
        )
        _save_guarding_one_active(offer, force_insert=True)
        audit.record(
            actor=actor, action=AuditAction.OFFER_CREATED, resource_type="offer", resource_id=offer.pk,
            details={
                "merchant_id": str(merchant.pk), "cashback_type": cashback_type,
                "cashback_value": str(cashback_value), "start_date": start_date.isoformat(),
                "end_date": end_date.isoformat(), "monthly_cap_per_user": str(monthly_cap), "active": active,
            },
        )
    return offer


def set_offer_active(*, offer_id, active: bool, actor: Actor) -> tuple[Offer, bool]:
    """Activate/deactivate; same status again is a no-op (no audit). R-45 on activation, R-49:
    an offer of an inactive merchant may be activated."""
    with transaction.atomic():
        offer = Offer.objects.select_for_update().filter(pk=offer_id).first()
        if offer is None:
            raise NotFound("offer", offer_id)
        if offer.active == active:
            return offer, False
        if active and (current := selectors.active_offer_of(offer.merchant_id, excluding=offer.pk)) is not None:
            raise ActiveOfferAlreadyExists(offer.merchant_id, current.pk)
        offer.active = active
        _save_guarding_one_active(offer, update_fields=["active", "updated_at"])
        audit.record(
            actor=actor,
            action=AuditAction.OFFER_ACTIVATED if active else AuditAction.OFFER_DEACTIVATED,
            resource_type="offer", resource_id=offer.pk,
            details={"from": "inactive" if active else "active", "to": "active" if active else "inactive"},
        )
    return offer, True
