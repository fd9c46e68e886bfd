"""Builders for the purchases tests.

Offers are created through offers.services (live ones) or as ORM rows (any window, past ones
included); purchases go through purchases.services so wallets, ledger and audit stay consistent
(R-69). The helpers at the end move money the way the (not yet built) payouts app will, and prove
the ledger with the real `reconcile_wallets` command.
"""

import datetime as dt
import io
import itertools
from decimal import Decimal

import factory
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from clicknback.audit.services import Actor
from merchants.tests.factories import MerchantFactory
from offers import services as offer_services
from offers.models import CashbackType, Offer
from purchases import services
from purchases.models import Purchase
from wallets import services as wallet_services
from wallets.models import BalanceName, LedgerReason, Wallet

_external_ids = itertools.count(1)


def today() -> dt.date:
    """R-3: the current UTC date."""
    return timezone.now().astimezone(dt.UTC).date()


def next_external_id() -> str:
    return f"ord-{next(_external_ids):06d}"


def live_offer(*, merchant=None, cashback_type: str = CashbackType.PERCENT, cashback_value="5.00",
               monthly_cap="100.00", active: bool = True) -> Offer:
    """A merchant (new unless given) with an offer created by the real service, live from today (R-50)."""
    merchant = merchant or MerchantFactory()
    return offer_services.create_offer(
        merchant_id=merchant.pk, cashback_type=cashback_type, cashback_value=Decimal(cashback_value),
        start_date=today(), end_date=today() + dt.timedelta(days=365), monthly_cap=Decimal(monthly_cap),
        active=active, actor=Actor.system(),
    )


class OfferFactory(factory.django.DjangoModelFactory):
    """An Offer row written by the ORM, so windows in the past (which the service refuses, R-43) are possible."""

    class Meta:
        model = Offer

    merchant = factory.SubFactory(MerchantFactory)
    cashback_type = CashbackType.PERCENT
    cashback_value = Decimal("5.00")
    start_date = factory.LazyFunction(lambda: today() - dt.timedelta(days=30))
    end_date = factory.LazyFunction(lambda: today() + dt.timedelta(days=30))
    monthly_cap_per_user = Decimal("100.00")
    active = True


def ingest(*, user, merchant, amount="100.00", currency: str = "EUR", external_id: str | None = None,
           actor: Actor | None = None) -> Purchase:
    """One purchase through the ingestion service, as the user's own API call would record it."""
    return services.ingest_purchase(
        user_id=user.pk, merchant_id=merchant.pk, external_id=external_id or next_external_id(),
        amount=Decimal(str(amount)), currency=currency, actor=actor or Actor.of_user(user),
    )


def confirm(purchase: Purchase) -> Purchase:
    return services.confirm_purchase(purchase_id=purchase.pk, actor=Actor.system())


def reverse(purchase: Purchase, reason: str | None = None) -> Purchase:
    return services.reverse_purchase(purchase_id=purchase.pk, reason=reason, actor=Actor.system())


def reject(purchase: Purchase, reason: str = "No matching bank movement.") -> Purchase:
    return services.reject_purchase(purchase_id=purchase.pk, reason=reason, actor=Actor.system())


def simulate_paid_payout(*, user, amount) -> Wallet:
    """Money leaving `available` as a paid payout would move it (R-111: payout_requested, payout_paid).

    There is no payouts app yet; this writes the same two ledger entries with the wallet locked,
    so the balances still reconcile (C6: available − clawback + paid = released cashback)."""
    amount = Decimal(str(amount))
    with transaction.atomic():
        wallet = wallet_services.lock_wallet(user.pk)
        movement = wallet_services._Movement(wallet, actor=Actor.system())
        movement.move(BalanceName.AVAILABLE, -amount, LedgerReason.PAYOUT_REQUESTED)
        movement.move(BalanceName.PAID, amount, LedgerReason.PAYOUT_PAID)
        return movement.save()


def reconcile_output() -> str:
    """R-182…R-185: run `reconcile_wallets`; a mismatch makes it exit 1 (SystemExit), failing the test."""
    out = io.StringIO()
    try:
        call_command("reconcile_wallets", stdout=out)
    except SystemExit as exc:
        raise AssertionError(f"reconcile_wallets exited {exc.code}:\n{out.getvalue()}") from None
    return out.getvalue()


def assert_wallets_reconcile() -> None:
    output = reconcile_output()
    assert output.rstrip().endswith(" 0 mismatches."), output
    assert "MISMATCH" not in output, output
