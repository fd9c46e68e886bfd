"""R-224: `seed_demo` works on every day of the year (29 February included) and can run again on a
seeded database without failing or duplicating anything."""

import datetime as dt
import io
from unittest import mock

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import User
from clicknback.audit.models import AuditLog
from clicknback.core.management.commands.seed_demo import DEMO_PURCHASES, one_year_after
from clicknback.testing import assert_wallets_reconcile
from merchants.models import Merchant
from offers.models import Offer
from purchases.models import Purchase
from wallets.models import LedgerEntry

pytestmark = pytest.mark.django_db


def seed(at: dt.datetime | None = None) -> str:
    out = io.StringIO()
    if at is None:
        call_command("seed_demo", stdout=out)
    else:
        with mock.patch.object(timezone, "now", return_value=at):
            call_command("seed_demo", stdout=out)
    return out.getvalue()


def counts() -> dict:
    return {model.__name__: model.objects.count() for model in (User, Merchant, Offer, Purchase, LedgerEntry)}


def test_one_year_after_29_february_is_28_february():
    assert one_year_after(dt.date(2028, 2, 29)) == dt.date(2029, 2, 28)
    assert one_year_after(dt.date(2027, 3, 1)) == dt.date(2028, 3, 1)


def test_seed_demo_works_on_29_february_r224():
    leap_day = dt.datetime(2028, 2, 29, 9, 30, tzinfo=dt.UTC)

    output = seed(at=leap_day)

    assert "Demo data ready" in output
    offers = Offer.objects.all()
    assert offers.count() == 3
    assert {(o.start_date, o.end_date) for o in offers} == {(dt.date(2028, 2, 29), dt.date(2029, 2, 28))}
    assert Purchase.objects.filter(external_id__startswith="demo-order-").count() == len(DEMO_PURCHASES)


def test_seed_demo_twice_neither_fails_nor_duplicates_r224():
    first = seed()
    after_first = counts()
    audit_rows = AuditLog.objects.count()

    second = seed()

    assert counts() == after_first
    assert Purchase.objects.filter(external_id__startswith="demo-order-").count() == len(DEMO_PURCHASES)
    # Only the two regenerated passwords are new (audited USER_UPDATED), nothing else was written again.
    assert AuditLog.objects.count() == audit_rows + 2
    assert first.splitlines()[0] == second.splitlines()[0]
    assert_wallets_reconcile()


def test_seed_demo_on_29_february_then_again_the_next_day_r224():
    seed(at=dt.datetime(2028, 2, 29, 23, 59, tzinfo=dt.UTC))
    before = counts()

    seed(at=dt.datetime(2028, 3, 1, 0, 1, tzinfo=dt.UTC))

    assert counts() == before  # the offers of the 29th are still live on the 1st: nothing new
