"""Builders for the offers tests.

`OfferFactory` writes an Offer row through the ORM, so any window is possible — past ones included,
which the service refuses (R-43). Offers the tests mean to create "as an operator would" go through
`offers.services.create_offer` instead.
"""

import datetime as dt
from decimal import Decimal

import factory

from merchants.tests.factories import MerchantFactory
from offers.models import CashbackType, Offer
from offers.selectors import today_utc


def days_from_today(days: int) -> dt.date:
    """R-3: offsets from the current UTC date."""
    return today_utc() + dt.timedelta(days=days)


class OfferFactory(factory.django.DjangoModelFactory):
    """A live percent offer of a new active merchant: today−7 … today+30, active (R-50)."""

    class Meta:
        model = Offer

    merchant = factory.SubFactory(MerchantFactory)
    cashback_type = CashbackType.PERCENT
    cashback_value = Decimal("5.00")
    start_date = factory.LazyFunction(lambda: days_from_today(-7))
    end_date = factory.LazyFunction(lambda: days_from_today(30))
    monthly_cap_per_user = Decimal("100.00")
    active = True
