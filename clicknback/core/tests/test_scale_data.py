"""The scale data set builder (issue 7): consistent money on any size, so reconcile_wallets stays clean."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.db.models import Count

from accounts.models import User
from clicknback.core.scale_data import HEAVY_USER_EMAIL, ScaleDataExists, build_scale_data
from clicknback.testing import assert_wallets_reconcile
from purchases.models import Purchase, PurchaseStatus
from wallets.models import CashbackStatus, CashbackTransaction, LedgerEntry, Wallet

pytestmark = pytest.mark.django_db


def build(**overrides):
    arguments = {"purchases": 300, "users": 6, "heavy_user_purchases": 120, "merchants": 4, **overrides}
    return build_scale_data(**arguments)


def test_small_scale_data_set_reconciles_clean_R182():
    summary = build()

    assert summary.purchases == Purchase.objects.count() == 300
    assert_wallets_reconcile()  # C1…C6 for every wallet, balance_after chains included


def test_heavy_user_gets_the_asked_purchases_and_the_others_share_the_rest_evenly():
    build()

    per_user = dict(Purchase.objects.values_list("user__email").annotate(n=Count("id")))
    assert per_user.pop(HEAVY_USER_EMAIL) == 120
    assert len(per_user) == 5 and set(per_user.values()) == {36}  # (300 − 120) / 5


def test_every_merchant_and_the_heavy_user_see_every_status_over_the_whole_period():
    build(purchases=2000, heavy_user_purchases=200)

    for merchant_id in Purchase.objects.values_list("merchant_id", flat=True).distinct():
        statuses = set(Purchase.objects.filter(merchant_id=merchant_id).values_list("status", flat=True))
        assert statuses == set(PurchaseStatus.values), merchant_id
    heavy = Purchase.objects.filter(user__email=HEAVY_USER_EMAIL)
    assert set(heavy.values_list("status", flat=True)) == set(PurchaseStatus.values)
    everyone = Purchase.objects.order_by("created_at")
    assert heavy.order_by("created_at").first().created_at - everyone.first().created_at < dt.timedelta(days=7)
    assert everyone.last().created_at - heavy.order_by("created_at").last().created_at < dt.timedelta(days=7)


def test_every_purchase_has_its_cashback_transaction_and_ledger_entries_of_its_status_R111():
    build()

    assert CashbackTransaction.objects.count() == Purchase.objects.count()
    statuses = dict(Purchase.objects.values_list("status").annotate(n=Count("id")))
    assert set(statuses) == set(PurchaseStatus.values)
    # earned: 1 entry; confirmed: +2; rejected: +1; reversed (after confirmation): +3
    expected = (statuses["pending"] + 3 * statuses["confirmed"] + 2 * statuses["rejected"]
                + 4 * statuses["reversed"])
    assert LedgerEntry.objects.count() == expected
    cashback = dict(CashbackTransaction.objects.values_list("status").annotate(n=Count("id")))
    assert cashback[CashbackStatus.PENDING] == statuses["pending"]
    assert cashback[CashbackStatus.AVAILABLE] == statuses["confirmed"]
    # rejected and reversed purchases carry no cashback any more
    assert not Purchase.objects.filter(status__in=["rejected", "reversed"], cashback_amount__gt=0).exists()


def test_wallet_balances_equal_pending_and_available_cashback_R114():
    build()

    heavy = Wallet.objects.get(user__email=HEAVY_USER_EMAIL)
    pending = sum(CashbackTransaction.objects.filter(user_id=heavy.pk, status="pending").values_list("amount", flat=True))
    available = sum(CashbackTransaction.objects.filter(user_id=heavy.pk, status="available")
                    .values_list("amount", flat=True))
    assert (heavy.pending_balance, heavy.available_balance) == (pending, available)
    assert heavy.pending_balance > 0 and heavy.available_balance > 0


def test_building_twice_is_refused_and_writes_nothing_more():
    build()
    before = Purchase.objects.count()

    with pytest.raises(ScaleDataExists):
        build()

    assert Purchase.objects.count() == before


def test_fewer_purchases_than_the_heavy_user_asks_for_all_go_to_the_heavy_user():
    build(purchases=10, heavy_user_purchases=1025)

    assert Purchase.objects.filter(user__email=HEAVY_USER_EMAIL).count() == 10
    assert_wallets_reconcile()


def test_progress_callback_hears_every_step():
    heard = []

    build(progress=heard.append)

    assert heard[0] == "Creating users and wallets" and heard[-1] == "Analysing the tables"
    assert len(heard) == 7


@pytest.mark.parametrize("arguments", [{"purchases": 0}, {"users": 1}, {"merchants": 0}])
def test_nonsense_sizes_are_refused(arguments):
    with pytest.raises(ValueError):
        build(**arguments)
    assert not User.objects.filter(email=HEAVY_USER_EMAIL).exists()


def test_the_accounts_log_in_with_the_returned_password():
    summary = build(purchases=5)

    heavy = User.objects.get(email=HEAVY_USER_EMAIL)
    assert heavy.check_password(summary.password)


def test_seed_demo_scale_option_builds_the_data_set_after_the_demo_data():
    out, err = io.StringIO(), io.StringIO()

    call_command("seed_demo", "--scale", "200", stdout=out, stderr=err)

    # Piped (not a terminal): no progress noise on either stream, one summary line for the scale data.
    summary = [line for line in out.getvalue().splitlines() if line.startswith("Scale data ready")]
    assert len(summary) == 1 and "200 purchases" in summary[0]
    assert "Inserting" not in out.getvalue() and err.getvalue() == ""
    assert Purchase.objects.filter(external_id__startswith="scale-").count() == 200
    assert Purchase.objects.filter(external_id__startswith="demo-order-").exists()
    assert_wallets_reconcile()
