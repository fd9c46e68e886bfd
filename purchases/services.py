"""Write use cases of purchases: ingestion (with the cashback engine), confirm, reject, reverse.

Lock order (R-6): purchase row first, then the wallet (inside wallets.services)."""

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.db import connections, transaction
from django.db.models import Sum
from django.db.models.constants import OnConflict
from django.utils import timezone

from accounts.models import User
from clicknback import metrics
from clicknback.audit import services as audit
from clicknback.audit.models import AuditAction
from clicknback.audit.services import Actor
from clicknback.errors import NotFound
from merchants.models import Merchant
from offers.models import Offer
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


@dataclass(frozen=True)
class _IngestionFacts:
    """What ingestion decides on, read in one statement after the wallet lock (R-68, R-84)."""

    existing_id: uuid.UUID | None
    user_active: bool | None  # None: no such user
    merchant_active: bool | None  # None: no such merchant
    offer_id: uuid.UUID | None  # the merchant's live offer, None when there is none
    cashback_type: str | None
    cashback_value: Decimal | None
    monthly_cap: Decimal | None
    earned_this_month: Decimal


def _as_uuid(value) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    return uuid.UUID(str(value))  # SQLite returns UUIDs as hex text


def _as_money(value) -> Decimal | None:
    # PostgreSQL returns Decimal; SQLite may return int/float for NUMERIC columns: via str, exact to the cent.
    return None if value is None else Decimal(str(value)).quantize(policies.CENT)


def _read_ingestion_facts(*, user_id, merchant_id, external_id: str, now) -> _IngestionFacts:
    """One round trip instead of five (issue 7): the duplicate, the user, the merchant, the live
    offer of R-67 and the month's earnings of R-83 under that offer. Raw SQL because the ORM cannot
    express "one row whatever exists" without a query per table; every value is prepared by its
    model field, so the statement runs on PostgreSQL and on SQLite (`make run`)."""
    start, end = policies.month_bounds(now)
    day = now.astimezone(dt.UTC).date()  # the ingestion moment, UTC
    conn = connections[Purchase.objects.db]
    ops = conn.ops
    uuid_param = Purchase._meta.pk.get_db_prep_value
    user_param = uuid_param(user_id, conn)
    merchant_param = uuid_param(merchant_id, conn)
    p, u, m, o = (model._meta.db_table for model in (Purchase, User, Merchant, Offer))
    q = ops.quote_name
    sql = f"""
        SELECT
          (SELECT dup.id FROM {q(p)} dup WHERE dup.merchant_id = %s AND dup.external_id = %s),
          (SELECT usr.is_active FROM {q(u)} usr WHERE usr.id = %s),
          (SELECT mer.active FROM {q(m)} mer WHERE mer.id = %s),
          live.id, live.cashback_type, live.cashback_value, live.monthly_cap_per_user,
          (SELECT COALESCE(SUM(own.cashback_amount), 0) FROM {q(p)} own
            WHERE own.user_id = %s AND own.offer_id = live.id
              AND own.created_at >= %s AND own.created_at < %s AND own.status IN (%s, %s))
        FROM (SELECT 1 AS one) base
        LEFT JOIN {q(o)} live
          ON live.merchant_id = %s AND live.active = %s AND live.start_date <= %s AND live.end_date >= %s
    """
    params = [
        merchant_param, external_id, user_param, merchant_param,
        user_param, ops.adapt_datetimefield_value(start), ops.adapt_datetimefield_value(end),
        PurchaseStatus.PENDING.value, PurchaseStatus.CONFIRMED.value,
        merchant_param, True, ops.adapt_datefield_value(day), ops.adapt_datefield_value(day),
    ]
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    existing_id, user_active, merchant_active, offer_id, cashback_type, value, cap, earned = row
    return _IngestionFacts(
        existing_id=_as_uuid(existing_id),
        user_active=None if user_active is None else bool(user_active),
        merchant_active=None if merchant_active is None else bool(merchant_active),
        offer_id=_as_uuid(offer_id), cashback_type=cashback_type, cashback_value=_as_money(value),
        monthly_cap=_as_money(cap), earned_this_month=_as_money(earned),
    )


def _insert_unless_duplicate(purchase: Purchase) -> bool:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id (R-63, R-201): False when a concurrent
    ingestion committed the same (merchant, external_id) first; no savepoint, never a 500.
    `_insert` is what Model.save() runs, with Django's field preparation (auto_now included)."""
    fields = Purchase._meta.local_concrete_fields
    inserted = Purchase.objects._insert(
        [purchase], fields=fields, returning_fields=[Purchase._meta.pk], on_conflict=OnConflict.IGNORE,
    )
    if not inserted:
        return False
    purchase._state.adding = False
    purchase._state.db = Purchase.objects.db
    return True


def ingest_purchase(*, user_id, merchant_id, external_id: str, amount: Decimal, currency: str, actor: Actor,
                    source: str = PurchaseSource.API, purchased_at=None) -> Purchase:
    """R-63…R-71 in the order of R-68 (after validation and ownership, which the caller checks).

    One transaction: purchase, cashback transaction, pending credit and audit row. The wallet
    is locked before the month's earnings are read, so concurrent ingestions of one user
    serialize and the cap cannot be outrun (R-84). Eight statements between BEGIN and COMMIT on
    the way to a 201: lock, read, four inserts, one update (issue 7)."""
    with transaction.atomic():
        wallet = wallets.lock_wallet_if_exists(user_id)
        now = timezone.now()
        facts = _read_ingestion_facts(user_id=user_id, merchant_id=merchant_id, external_id=external_id, now=now)
        if facts.existing_id is not None:
            raise DuplicatePurchase(Purchase.objects.get(pk=facts.existing_id))
        if currency.upper() != SUPPORTED_CURRENCY:
            raise UnsupportedCurrency(currency)
        if facts.user_active is None:
            raise UserNotEligible(user_id, "User does not exist.")
        if not facts.user_active:
            raise UserNotEligible(user_id, "User account is inactive.")
        if facts.merchant_active is None:
            raise MerchantNotEligible(merchant_id, "Merchant does not exist.")
        if not facts.merchant_active:
            raise MerchantNotEligible(merchant_id, "Merchant is inactive.")
        if facts.offer_id is None:
            raise OfferNotAvailable(merchant_id)
        if wallet is None:
            # a user without a wallet row gets one, locked; the earnings are read again under it.
            wallet = wallets.lock_wallet(user_id)
            facts = _read_ingestion_facts(user_id=user_id, merchant_id=merchant_id, external_id=external_id, now=now)
        cashback = policies.compute_cashback(
            cashback_type=facts.cashback_type, cashback_value=facts.cashback_value, amount=amount,
            monthly_cap=facts.monthly_cap, earned_this_month=facts.earned_this_month,
        )
        purchase = Purchase(
            external_id=external_id, user_id=user_id, merchant_id=merchant_id, offer_id=facts.offer_id,
            amount=amount, currency=currency.upper(), cashback_amount=cashback, status=PurchaseStatus.PENDING,
            source=source, purchased_at=purchased_at, created_at=now,
        )
        if not _insert_unless_duplicate(purchase):
            # another user's concurrent ingestion took (merchant, external_id) first
            # (the same user's would have waited on the wallet lock and been seen by the read).
            raise DuplicatePurchase(_existing(merchant_id, external_id))
        wallets.earn_cashback(wallet=wallet, purchase=purchase, amount=cashback, actor=actor)
        audit.record(
            actor=actor, action=AuditAction.PURCHASE_INGESTED, resource_type="purchase", resource_id=purchase.pk,
            details={
                "external_id": external_id, "user_id": str(user_id), "merchant_id": str(merchant_id),
                "offer_id": str(facts.offer_id), "amount": str(amount), "currency": purchase.currency,
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
