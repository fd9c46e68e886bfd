"""Races on real PostgreSQL with real threads (R-84, R-96, R-201): requests start together behind a
barrier, each thread uses its own connection and closes it; afterwards the ledger must reconcile."""

from decimal import Decimal

import pytest

from accounts.tests.factories import UserFactory
from clicknback.audit.models import AuditAction, AuditLog
from clicknback.audit.services import Actor
from clicknback.testing import assert_wallets_reconcile, run_together
from conftest import bearer_client
from purchases import services
from purchases.exceptions import DuplicatePurchase, PurchaseAlreadyReversed, PurchaseNotPending
from purchases.models import Purchase, PurchaseStatus
from purchases.tests.factories import ingest, live_offer, next_external_id
from wallets.models import CashbackTransaction, LedgerEntry, Wallet

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal
THREADS = 20


def wallet_of(user) -> Wallet:
    return Wallet.objects.get(user=user)


def test_simultaneous_service_ingestions_of_one_external_id_create_exactly_one_purchase():
    # one succeeds, every other one is a DuplicatePurchase, never an IntegrityError.
    user = UserFactory()
    merchant = live_offer().merchant
    external_id = next_external_id()

    def attempt():
        return services.ingest_purchase(user_id=user.pk, merchant_id=merchant.pk, external_id=external_id,
                                        amount=D("100.00"), currency="EUR", actor=Actor.of_user(user))

    results = run_together(*[attempt] * THREADS)

    created = [r for r in results if isinstance(r, Purchase)]
    duplicates = [r for r in results if isinstance(r, DuplicatePurchase)]
    assert len(created) == 1 and len(duplicates) == THREADS - 1, results
    assert {d.details["previously_processed_amount"] for d in duplicates} == {"100.00"}
    assert Purchase.objects.count() == 1
    assert CashbackTransaction.objects.count() == 1
    assert LedgerEntry.objects.count() == 1
    assert AuditLog.objects.filter(action=AuditAction.PURCHASE_INGESTED).count() == 1
    assert wallet_of(user).pending_balance == D("5.00")
    assert_wallets_reconcile()


def test_simultaneous_api_ingestions_of_one_external_id_answer_one_201_and_409s():
    user = UserFactory()
    merchant = live_offer().merchant
    body = {"external_id": next_external_id(), "user_id": str(user.pk), "merchant_id": str(merchant.pk),
            "amount": "100.00", "currency": "EUR"}

    def attempt():
        response = bearer_client(user).post("/api/v1/purchases", body, format="json")
        return response.status_code, response.json()

    results = run_together(*[attempt] * THREADS)

    assert not [r for r in results if isinstance(r, BaseException)], results
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * (THREADS - 1), results  # never a 500
    assert {body["error"]["code"] for status, body in results if status == 409} == {"DUPLICATE_PURCHASE"}
    assert Purchase.objects.count() == 1
    assert CashbackTransaction.objects.count() == 1
    assert LedgerEntry.objects.count() == 1
    assert wallet_of(user).pending_balance == D("5.00")
    assert_wallets_reconcile()


@pytest.mark.parametrize("users", [2, 8])
def test_one_external_id_from_different_users_at_once_is_recorded_once(users):
    # the key is (merchant, external_id); the losers wait on the unique index.
    accounts = [UserFactory() for _ in range(users)]
    merchant = live_offer().merchant
    external_id = next_external_id()

    def attempt_for(account):
        return lambda: services.ingest_purchase(
            user_id=account.pk, merchant_id=merchant.pk, external_id=external_id, amount=D("100.00"),
            currency="EUR", actor=Actor.of_user(account))

    results = run_together(*[attempt_for(a) for a in accounts])

    created = [r for r in results if isinstance(r, Purchase)]
    assert len(created) == 1, results
    assert all(isinstance(r, DuplicatePurchase) for r in results if r is not created[0]), results
    purchase = Purchase.objects.get()
    assert purchase.pk == created[0].pk
    assert CashbackTransaction.objects.count() == 1
    assert LedgerEntry.objects.count() == 1
    for account in accounts:
        expected = D("5.00") if account.pk == purchase.user_id else D("0.00")
        assert wallet_of(account).pending_balance == expected
    assert_wallets_reconcile()


def test_simultaneous_ingestions_of_one_user_cannot_outrun_the_monthly_cap():
    # the wallet lock serializes them; 3 + 3 + 3 + 1 = 10.00 exactly, the rest 0.00.
    user = UserFactory()
    offer = live_offer(cashback_type="fixed", cashback_value="3.00", monthly_cap="10.00")

    def attempt():
        return ingest(user=user, merchant=offer.merchant, amount="50.00")

    results = run_together(*[attempt] * THREADS)

    assert all(isinstance(r, Purchase) for r in results), results
    cashbacks = sorted((r.cashback_amount for r in results), reverse=True)
    assert cashbacks == [D("3.00")] * 3 + [D("1.00")] + [D("0.00")] * (THREADS - 4)
    stored = [p.cashback_amount for p in Purchase.objects.filter(user=user, offer=offer)]
    assert len(stored) == THREADS
    assert sum(stored) == D("10.00") == offer.monthly_cap_per_user
    assert wallet_of(user).pending_balance == sum(stored)
    assert LedgerEntry.objects.count() == 4  # no 0.00 entries
    assert_wallets_reconcile()


@pytest.mark.parametrize("round_", range(5))
def test_confirm_and_reverse_racing_on_one_pending_purchase_end_consistent(round_):
    # both lock the purchase first; the loser sees the winner's status.
    user = UserFactory()
    merchant = live_offer().merchant
    ingest(user=user, merchant=merchant, amount="60.00")  # 3.00 pending that must stay untouched
    purchase = ingest(user=user, merchant=merchant)

    results = run_together(
        lambda: services.confirm_purchase(purchase_id=purchase.pk, actor=Actor.system()),
        lambda: services.reverse_purchase(purchase_id=purchase.pk, reason="race", actor=Actor.system()),
    )

    confirmed, reversed_ = results
    assert isinstance(reversed_, Purchase), results  # reversal is allowed from pending and from confirmed
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.REVERSED
    assert purchase.cashback_amount == D("0.00")
    assert CashbackTransaction.objects.get(purchase=purchase).status == "reversed"
    reasons = list(LedgerEntry.objects.filter(purchase=purchase).order_by("id")
                   .values_list("balance", "amount", "reason"))
    if isinstance(confirmed, Purchase):  # confirm won, then reverse took the money back from available
        assert reasons == [
            ("pending", D("5.00"), "cashback_earned"),
            ("pending", D("-5.00"), "cashback_confirmed"),
            ("available", D("5.00"), "cashback_confirmed"),
            ("available", D("-5.00"), "cashback_reversed"),
        ]
        assert AuditLog.objects.filter(action=AuditAction.PURCHASE_CONFIRMED).count() == 1
    else:  # reverse won, confirm found it no longer pending
        assert isinstance(confirmed, PurchaseNotPending), results
        assert confirmed.details["violations"][0]["current_status"] == "reversed"
        assert reasons == [
            ("pending", D("5.00"), "cashback_earned"),
            ("pending", D("-5.00"), "cashback_reversed"),
        ]
        assert AuditLog.objects.filter(action=AuditAction.PURCHASE_CONFIRMED).count() == 0
    assert AuditLog.objects.filter(action=AuditAction.PURCHASE_REVERSED).count() == 1
    wallet = wallet_of(user)
    assert (wallet.pending_balance, wallet.available_balance, wallet.clawback_balance) == (
        D("3.00"), D("0.00"), D("0.00"))
    assert_wallets_reconcile()


@pytest.mark.parametrize("transition", ["confirm", "reverse_pending", "reverse_confirmed"])
def test_the_same_transition_requested_twice_at_once_moves_money_once(transition):
    # the second sees the first's status under the lock — no double credit, no double debit.
    user = UserFactory()
    merchant = live_offer().merchant
    purchase = ingest(user=user, merchant=merchant)
    if transition == "reverse_confirmed":
        services.confirm_purchase(purchase_id=purchase.pk, actor=Actor.system())
    if transition == "confirm":
        def task():
            return services.confirm_purchase(purchase_id=purchase.pk, actor=Actor.system())
        loser_error = PurchaseNotPending
    else:
        def task():
            return services.reverse_purchase(purchase_id=purchase.pk, reason=None, actor=Actor.system())
        loser_error = PurchaseAlreadyReversed

    results = run_together(*[task] * 4)

    assert sum(isinstance(r, Purchase) for r in results) == 1, results
    assert sum(isinstance(r, loser_error) for r in results) == 3, results
    wallet = wallet_of(user)
    expected_available = D("5.00") if transition == "confirm" else D("0.00")
    assert (wallet.pending_balance, wallet.available_balance, wallet.clawback_balance) == (
        D("0.00"), expected_available, D("0.00"))
    assert_wallets_reconcile()


def test_ingestions_and_confirmations_of_one_user_interleave_without_deadlock():
    # ingestion locks only the wallet; transitions lock purchase → wallet — no cycle.
    user = UserFactory()
    merchant = live_offer().merchant
    pending = [ingest(user=user, merchant=merchant) for _ in range(5)]
    tasks = [lambda p=p: services.confirm_purchase(purchase_id=p.pk, actor=Actor.system()) for p in pending]
    tasks += [lambda: ingest(user=user, merchant=merchant) for _ in range(5)]
    tasks += [lambda p=p: services.reverse_purchase(purchase_id=p.pk, reason=None, actor=Actor.system())
              for p in pending[:2]]

    results = run_together(*tasks)

    assert all(isinstance(r, (Purchase, PurchaseNotPending)) for r in results), results
    wallet = wallet_of(user)
    assert wallet.pending_balance + wallet.available_balance == D("40.00")  # 10 × 5.00 − 2 reversed
    assert wallet.clawback_balance == D("0.00")
    assert_wallets_reconcile()
