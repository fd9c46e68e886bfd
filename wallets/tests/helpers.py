"""Builders for the wallets tests.

Money only moves through the real services: purchases through purchases.services (R-69, R-91…R-93),
payouts through the wallets' own payout movements (R-111 payout rows) on Payout rows written by the
ORM, so the tests do not depend on the payouts app's request rules.
"""

import datetime as dt
import io
import itertools
from decimal import Decimal

from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from clicknback.audit.services import Actor
from merchants.tests.factories import MerchantFactory
from offers import services as offer_services
from purchases import services as purchase_services
from purchases.models import Purchase
from wallets import services as wallet_services
from wallets.models import LedgerEntry, Wallet

_external_ids = itertools.count(1)


def today() -> dt.date:
    """R-3: the current UTC date."""
    return timezone.now().astimezone(dt.UTC).date()


def live_merchant(*, cashback_value: str = "10.00", monthly_cap: str = "1000.00"):
    """A merchant with a live percent offer (10 % unless told) created by the real service."""
    merchant = MerchantFactory()
    offer_services.create_offer(
        merchant_id=merchant.pk, cashback_type="percent", cashback_value=Decimal(cashback_value),
        start_date=today(), end_date=today() + dt.timedelta(days=365), monthly_cap=Decimal(monthly_cap),
        actor=Actor.system(),
    )
    return merchant


def ingest(user, merchant, amount: str = "100.00", *, actor: Actor | None = None) -> Purchase:
    return purchase_services.ingest_purchase(
        user_id=user.pk, merchant_id=merchant.pk, external_id=f"w-ord-{next(_external_ids):06d}",
        amount=Decimal(amount), currency="EUR", actor=actor or Actor.system(),
    )


def confirm(purchase: Purchase, *, actor: Actor | None = None) -> Purchase:
    return purchase_services.confirm_purchase(purchase_id=purchase.pk, actor=actor or Actor.system())


def reverse(purchase: Purchase, *, reason: str | None = None, actor: Actor | None = None) -> Purchase:
    return purchase_services.reverse_purchase(purchase_id=purchase.pk, reason=reason, actor=actor or Actor.system())


def reject(purchase: Purchase, *, reason: str = "No matching bank movement.", actor: Actor | None = None) -> Purchase:
    return purchase_services.reject_purchase(purchase_id=purchase.pk, reason=reason, actor=actor or Actor.system())


def request_payout(user, amount: str, *, actor: Actor | None = None):
    """A Payout row in `requested` and its `available −x` movement (R-111 "payout requested")."""
    from payouts.models import Payout, PayoutStatus

    with transaction.atomic():
        wallet = wallet_services.lock_wallet(user.pk)
        payout = Payout.objects.create(user=user, amount=Decimal(amount), status=PayoutStatus.REQUESTED,
                                       requested_at=timezone.now())
        wallet_services.debit_for_payout(wallet=wallet, payout=payout, actor=actor or Actor.system())
    return payout


def pay_payout(payout, *, actor: Actor | None = None):
    """`paid +x` (R-111 "payout paid")."""
    from payouts.models import PayoutStatus

    with transaction.atomic():
        type(payout).objects.filter(pk=payout.pk).update(status=PayoutStatus.PAID, processed_at=timezone.now())
        wallet_services.record_payout_paid(payout=payout, actor=actor or Actor.system())
    payout.refresh_from_db()
    return payout


def fail_payout(payout, *, actor: Actor | None = None) -> dict:
    """The money comes back (R-111 "payout rejected or failed")."""
    from payouts.models import PayoutStatus

    with transaction.atomic():
        type(payout).objects.filter(pk=payout.pk).update(status=PayoutStatus.FAILED, processed_at=timezone.now())
        moved = wallet_services.return_payout(payout=payout, actor=actor or Actor.system())
    payout.refresh_from_db()
    return moved


def paid_out(user, amount: str):
    """A payout requested and paid: `available −x`, then `paid +x`."""
    return pay_payout(request_payout(user, amount))


def balances(user) -> dict:
    wallet = Wallet.objects.get(pk=user.pk)
    return {
        "pending": wallet.pending_balance, "available": wallet.available_balance,
        "paid": wallet.paid_balance, "clawback": wallet.clawback_balance,
    }


def money(value: str) -> Decimal:
    return Decimal(value)


def last_entry_id() -> int:
    last = LedgerEntry.objects.order_by("-id").values_list("id", flat=True).first()
    return last or 0


def entries_after(entry_id: int, **filters) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(id__gt=entry_id, **filters).order_by("id"))


def as_rows(entries) -> list[tuple]:
    """(balance, signed amount, balance_after, reason) of each entry, in id order."""
    return [(e.balance, e.amount, e.balance_after, e.reason) for e in entries]


def run_reconcile(*args) -> tuple[int, str, str]:
    """`reconcile_wallets` through call_command: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("reconcile_wallets", *args, stdout=out, stderr=err)
        status = 0
    except SystemExit as exc:
        status = exc.code
    return status, out.getvalue(), err.getvalue()
