"""Builders for the purchases tests.

Offers are created through offers.services (live ones) or as ORM rows (any window, past ones
included); purchases go through purchases.services so wallets, ledger and audit stay consistent
(R-69). The helper at the end moves money the way the (not yet built) payouts app will; the ledger
is proved with the real `reconcile_wallets` command by `clicknback.testing.assert_wallets_reconcile`.
"""

import datetime as dt
import itertools
from decimal import Decimal

import factory
from django.db import transaction
from django.utils import timezone

from clicknback.audit.services import Actor
from merchants.tests.factories import MerchantFactory
from offers import services as offer_services
from offers.models import CashbackType, Offer
from offers.tests import factories as offers_factories
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


class OfferFactory(offers_factories.OfferFactory):
    """An Offer row written by the ORM, so windows in the past (which the service refuses, R-43) are possible;
    the offers tests' factory, live from 30 days ago (today−30 … today+30)."""

    start_date = factory.LazyFunction(lambda: today() - dt.timedelta(days=30))


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
