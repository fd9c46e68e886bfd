"""Write use cases of purchases: ingestion (with the cashback engine), confirm, reject, reverse.

Lock order (R-6): purchase row first, then the wallet (inside wallets.services)."""

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import User
from clicknback import metrics
from clicknback.audit import services as audit
from clicknback.audit.models import AuditAction
from clicknback.audit.services import Actor
from clicknback.errors import NotFound
from merchants.models import Merchant
from offers import selectors as offer_selectors
from purchases import policies
from purchases.exceptions import (
    DuplicatePurchase,
    MerchantNotEligible,
    OfferNotAvailable,
    PurchaseAlreadyReversed,
    PurchaseNotPending,
    PurchaseNotReversible,
    UnsupportedCurrency,
    UserNotEligible,
)
from purchases.models import Purchase, PurchaseSource, PurchaseStatus
from wallets import services as wallets

SUPPORTED_CURRENCY = "EUR"


def _existing(merchant_id, external_id) -> Purchase | None:
    return Purchase.objects.filter(merchant_id=merchant_id, external_id=external_id).first()


def earned_this_month(*, user_id, offer_id, moment) -> Decimal:
    """R-83: cashback of this user's pending/confirmed purchases with this offer in the UTC month."""
    start, end = policies.month_bounds(moment)
    total = Purchase.objects.filter(
        user_id=user_id, offer_id=offer_id, created_at__gte=start, created_at__lt=end,
        status__in=[PurchaseStatus.PENDING, PurchaseStatus.CONFIRMED],
    ).aggregate(total=Sum("cashback_amount"))["total"]
    return total or Decimal("0.00")


def ingest_purchase(*, user_id, merchant_id, external_id: str, amount: Decimal, currency: str, actor: Actor,
                    source: str = PurchaseSource.API, purchased_at=None) -> Purchase:
    """R-63…R-71 in the order of R-68 (after validation and ownership, which the caller checks).

    One transaction: purchase, cashback transaction, pending credit and audit row. The wallet
    is locked before the month's earnings are read, so concurrent ingestions of one user
    serialize and the cap cannot be outrun (R-84)."""
    with transaction.atomic():
        wallet = wallets.lock_wallet(user_id) if User.objects.filter(pk=user_id).exists() else None
        if (existing := _existing(merchant_id, external_id)) is not None:
            raise DuplicatePurchase(existing)
        if currency.upper() != SUPPORTED_CURRENCY:
            raise UnsupportedCurrency(currency)
        user = User.objects.filter(pk=user_id).first()
        if user is None or wallet is None:
            raise UserNotEligible(user_id, "User does not exist.")
        if not user.is_active:
            raise UserNotEligible(user_id, "User account is inactive.")
        merchant = Merchant.objects.filter(pk=merchant_id).first()
        if merchant is None:
            raise MerchantNotEligible(merchant_id, "Merchant does not exist.")
        if not merchant.active:
            raise MerchantNotEligible(merchant_id, "Merchant is inactive.")
        now = timezone.now()
        offer = offer_selectors.live_offer_for_merchant(merchant_id, on=now.date())  # ingestion moment, UTC
        if offer is None:
            raise OfferNotAvailable(merchant_id)
        cashback = policies.compute_cashback(
            cashback_type=offer.cashback_type, cashback_value=offer.cashback_value, amount=amount,
            monthly_cap=offer.monthly_cap_per_user,
            earned_this_month=earned_this_month(user_id=user_id, offer_id=offer.pk, moment=now),
        )
        purchase = Purchase(
            external_id=external_id, user=user, merchant=merchant, offer=offer, amount=amount,
            currency=currency.upper(), cashback_amount=cashback, status=PurchaseStatus.PENDING, source=source,
            purchased_at=purchased_at, created_at=now,
        )
        try:
            with transaction.atomic():
                purchase.save(force_insert=True)
        except IntegrityError:
            # another user's concurrent ingestion took (merchant, external_id) first.
            if (winner := _existing(merchant_id, external_id)) is None:
                raise  # some other constraint: not a duplicate, let it surface
            raise DuplicatePurchase(winner)
        wallets.earn_cashback(wallet=wallet, purchase=purchase, amount=cashback, actor=actor)
        audit.record(
            actor=actor, action=AuditAction.PURCHASE_INGESTED, resource_type="purchase", resource_id=purchase.pk,
            details={
                "external_id": external_id, "user_id": str(user.pk), "merchant_id": str(merchant.pk),
                "offer_id": str(offer.pk), "amount": str(amount), "currency": purchase.currency,
                "cashback_amount": str(cashback), "source": source,
            },
        )
    metrics.purchase_ingested(source=source, cashback=cashback)
    return purchase


def _lock_purchase(purchase_id) -> Purchase:
    """R-96: every transition locks the purchase row first and re-checks under the lock."""
    purchase = Purchase.objects.select_for_update().filter(pk=purchase_id).first()
    if purchase is None:
        raise NotFound("purchase", purchase_id)
    return purchase


def confirm_purchase(*, purchase_id, actor: Actor) -> Purchase:
    """R-91: pending → confirmed; cashback pending → available (clawback settled first, R-116)."""
    with transaction.atomic():
        purchase = _lock_purchase(purchase_id)
        if purchase.status != PurchaseStatus.PENDING:
            raise PurchaseNotPending(purchase)
        moved = wallets.release_cashback(purchase=purchase, actor=actor)
        purchase.status = PurchaseStatus.CONFIRMED
        purchase.confirmed_at = timezone.now()
        purchase.save(update_fields=["status", "confirmed_at", "updated_at"])
        audit.record(
            actor=actor, action=AuditAction.PURCHASE_CONFIRMED, resource_type="purchase", resource_id=purchase.pk,
            details={"from": PurchaseStatus.PENDING, "to": PurchaseStatus.CONFIRMED, **moved},
        )
    return purchase


def reject_purchase(*, purchase_id, reason: str, actor: Actor) -> Purchase:
    """R-92 (confirmation job only): pending → rejected; the pending cashback is removed."""
    with transaction.atomic():
        purchase = _lock_purchase(purchase_id)
        if purchase.status != PurchaseStatus.PENDING:
            raise PurchaseNotPending(purchase)
        moved = wallets.withdraw_cashback(purchase=purchase, actor=actor, rejected=True)
        purchase.status = PurchaseStatus.REJECTED
        purchase.rejected_at = timezone.now()
        purchase.status_reason = reason
        purchase.cashback_amount = Decimal("0.00")
        purchase.save(update_fields=["status", "rejected_at", "status_reason", "cashback_amount", "updated_at"])
        audit.record(
            actor=actor, action=AuditAction.PURCHASE_REJECTED, resource_type="purchase", resource_id=purchase.pk,
            details={"from": PurchaseStatus.PENDING, "to": PurchaseStatus.REJECTED, "reason": reason, **moved},
        )
    return purchase


def reverse_purchase(*, purchase_id, reason: str | None, actor: Actor) -> Purchase:
    """R-93: pending or confirmed → reversed; from confirmed, what available cannot cover becomes
    clawback (R-115)."""
    with transaction.atomic():
        purchase = _lock_purchase(purchase_id)
        if purchase.status == PurchaseStatus.REVERSED:
            raise PurchaseAlreadyReversed(purchase)
        if purchase.status == PurchaseStatus.REJECTED:
            raise PurchaseNotReversible(purchase)
        previous = purchase.status
        moved = wallets.withdraw_cashback(purchase=purchase, actor=actor, rejected=False)
        purchase.status = PurchaseStatus.REVERSED
        purchase.reversed_at = timezone.now()
        purchase.status_reason = reason
        purchase.cashback_amount = Decimal("0.00")
        purchase.save(update_fields=["status", "reversed_at", "status_reason", "cashback_amount", "updated_at"])
        audit.record(
            actor=actor, action=AuditAction.PURCHASE_REVERSED, resource_type="purchase", resource_id=purchase.pk,
            details={"from": previous, "to": PurchaseStatus.REVERSED, "reason": reason, **moved},
        )
    return purchase
