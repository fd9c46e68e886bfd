"""Every money movement of R-111 at the service level, on real PostgreSQL: balances, ledger entries
(R-112, R-117, R-118), the no-negative rule (R-114), clawback (R-115, R-116), wallet creation (R-13,
R-119) and the append-only ledger (R-112)."""

import uuid
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from accounts import services as account_services
from accounts.models import User
from accounts.signals import account_created
from accounts.tests.factories import TEST_PASSWORD, UserFactory
from clicknback.audit.models import ActorType
from clicknback.audit.services import Actor
from clicknback.testing import run_together
from purchases.models import Purchase, PurchaseStatus
from wallets import services as wallet_services
from wallets.exceptions import LedgerInvariantBroken
from wallets.models import (
    AppendOnlyError,
    BalanceName,
    CashbackStatus,
    CashbackTransaction,
    LedgerEntry,
    LedgerReason,
    Wallet,
)
from wallets.tests.helpers import (
    as_rows,
    balances,
    confirm,
    entries_after,
    fail_payout,
    ingest,
    last_entry_id,
    live_merchant,
    paid_out,
    pay_payout,
    reject,
    request_payout,
    reverse,
    run_reconcile,
)

D = Decimal
ZERO = D("0.00")
ALL_ZERO = {"pending": ZERO, "available": ZERO, "paid": ZERO, "clawback": ZERO}

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant():
    return live_merchant()  # 10 % cashback, cap 1000.00


def _assert_one_operation(entries, *, purchase=None, payout=None, actor: Actor = Actor.system()):
    """R-112: every entry of one command shares its operation_id and names purchase/payout and actor."""
    assert entries, "expected ledger entries"
    assert len({e.operation_id for e in entries}) == 1
    for entry in entries:
        assert entry.purchase_id == (purchase.pk if purchase else None)
        assert entry.payout_id == (payout.pk if payout else None)
        assert entry.actor_type == actor.type
        assert entry.actor_id == actor.id
        assert entry.amount != ZERO


# --- the wallet exists ------------------------------------------------------------


def test_r13_registration_creates_a_zero_wallet():
    user = account_services.register_user(email="new.saver@example.com", password=TEST_PASSWORD)

    assert balances(user) == ALL_ZERO
    assert not LedgerEntry.objects.filter(wallet_id=user.pk).exists()


def test_r13_wallet_is_created_in_the_registration_transaction():
    # A later receiver of the same signal fails: the user and the wallet roll back together.
    def explode(sender, user, **kwargs):
        assert Wallet.objects.filter(pk=user.pk).exists()  # the wallet was written before
        raise RuntimeError("boom")

    account_created.connect(explode, dispatch_uid="test.explode")
    try:
        with pytest.raises(RuntimeError):
            account_services.register_user(email="rollback@example.com", password=TEST_PASSWORD)
    finally:
        account_created.disconnect(dispatch_uid="test.explode")

    assert not User.objects.filter(email="rollback@example.com").exists()
    assert not Wallet.objects.filter(user__email="rollback@example.com").exists()
    assert Wallet.objects.count() == User.objects.count()


def test_r119_lock_wallet_creates_a_missing_wallet_with_zero_balances():
    user = UserFactory()
    Wallet.objects.filter(pk=user.pk).delete()

    with transaction.atomic():
        wallet = wallet_services.lock_wallet(user.pk)

    assert wallet.user_id == user.pk
    assert balances(user) == ALL_ZERO


def test_r119_ingestion_for_a_user_without_wallet_creates_it_and_credits_pending(merchant):
    user = UserFactory()
    Wallet.objects.filter(pk=user.pk).delete()

    ingest(user, merchant, "100.00")

    assert balances(user) == {**ALL_ZERO, "pending": D("10.00")}


def test_r119_lock_wallet_returns_the_existing_wallet_unchanged(merchant):
    user = UserFactory()
    ingest(user, merchant, "100.00")

    with transaction.atomic():
        wallet = wallet_services.lock_wallet(user.pk)

    assert wallet.pending_balance == D("10.00")
    assert Wallet.objects.filter(pk=user.pk).count() == 1


# --- R-111 row by row ---------------------------------------------------------------------------


def test_r111_ingestion_credits_pending_with_one_cashback_earned_entry(merchant):
    user = UserFactory()
    before = last_entry_id()

    purchase = ingest(user, merchant, "100.00")

    entries = entries_after(before)
    assert as_rows(entries) == [("pending", D("10.00"), D("10.00"), "cashback_earned")]
    _assert_one_operation(entries, purchase=purchase)
    assert entries[0].wallet_id == user.pk
    assert balances(user) == {**ALL_ZERO, "pending": D("10.00")}
    cashback = CashbackTransaction.objects.get(purchase=purchase)
    assert (cashback.user_id, cashback.amount, cashback.status) == (user.pk, D("10.00"), CashbackStatus.PENDING)


def test_r111_ingestion_by_the_user_records_the_user_as_actor(merchant):
    user = UserFactory()
    before = last_entry_id()

    purchase = ingest(user, merchant, "50.00", actor=Actor.of_user(user))

    entries = entries_after(before)
    assert as_rows(entries) == [("pending", D("5.00"), D("5.00"), "cashback_earned")]
    _assert_one_operation(entries, purchase=purchase, actor=Actor(ActorType.USER, user.pk))


def test_r111_second_ingestion_chains_balance_after(merchant):
    user = UserFactory()
    ingest(user, merchant, "100.00")
    before = last_entry_id()

    ingest(user, merchant, "25.50")  # 2.55

    assert as_rows(entries_after(before)) == [("pending", D("2.55"), D("12.55"), "cashback_earned")]
    assert balances(user)["pending"] == D("12.55")


def test_r111_confirmation_moves_pending_to_available(merchant):
    user = UserFactory()
    purchase = ingest(user, merchant, "100.00")
    earned_operation = LedgerEntry.objects.get(purchase=purchase).operation_id
    before = last_entry_id()
    admin = Actor(ActorType.ADMIN, uuid.uuid4())

    confirm(purchase, actor=admin)

    entries = entries_after(before)
    # s = min(c, clawback) = 0: no clawback_settled entry.
    assert as_rows(entries) == [
        ("pending", D("-10.00"), D("0.00"), "cashback_confirmed"),
        ("available", D("10.00"), D("10.00"), "cashback_confirmed"),
    ]
    _assert_one_operation(entries, purchase=purchase, actor=admin)
    assert entries[0].operation_id != earned_operation
    assert balances(user) == {**ALL_ZERO, "available": D("10.00")}
    assert CashbackTransaction.objects.get(purchase=purchase).status == CashbackStatus.AVAILABLE


def test_r111_rejection_removes_pending_with_cashback_rejected(merchant):
    user = UserFactory()
    purchase = ingest(user, merchant, "100.00")
    before = last_entry_id()

    reject(purchase)

    entries = entries_after(before)
    assert as_rows(entries) == [("pending", D("-10.00"), D("0.00"), "cashback_rejected")]
    _assert_one_operation(entries, purchase=purchase)
    assert balances(user) == ALL_ZERO
    cashback = CashbackTransaction.objects.get(purchase=purchase)
    assert (cashback.status, cashback.amount) == (CashbackStatus.REVERSED, D("10.00"))  # amount kept


def test_r111_reversal_of_a_pending_purchase_removes_pending_with_cashback_reversed(merchant):
    user = UserFactory()
    other = ingest(user, merchant, "30.00")  # 3.00 stays pending
    purchase = ingest(user, merchant, "100.00")
    before = last_entry_id()

    reverse(purchase, reason="customer cancelled")

    entries = entries_after(before)
    assert as_rows(entries) == [("pending", D("-10.00"), D("3.00"), "cashback_reversed")]
    _assert_one_operation(entries, purchase=purchase)
    assert balances(user) == {**ALL_ZERO, "pending": D("3.00")}
    assert CashbackTransaction.objects.get(purchase=purchase).status == CashbackStatus.REVERSED
    assert CashbackTransaction.objects.get(purchase=other).status == CashbackStatus.PENDING


def test_r111_reversal_of_a_confirmed_purchase_with_enough_available_takes_it_from_available(merchant):
    user = UserFactory()
    keep = ingest(user, merchant, "50.00")
    confirm(keep)  # available 5.00
    purchase = ingest(user, merchant, "100.00")
    confirm(purchase)  # available 15.00
    before = last_entry_id()

    reverse(purchase)

    entries = entries_after(before)
    # d = min(c, available) = c: no clawback_recorded entry.
    assert as_rows(entries) == [("available", D("-10.00"), D("5.00"), "cashback_reversed")]
    _assert_one_operation(entries, purchase=purchase)
    assert balances(user) == {**ALL_ZERO, "available": D("5.00")}


def test_r115_reversal_with_a_shortfall_records_clawback(merchant):
    user = UserFactory()
    purchase = ingest(user, merchant, "100.00")
    confirm(purchase)  # available 10.00
    paid_out(user, "7.00")  # available 3.00, paid 7.00
    before = last_entry_id()

    reverse(purchase)

    entries = entries_after(before)
    assert as_rows(entries) == [
        ("available", D("-3.00"), D("0.00"), "cashback_reversed"),
        ("clawback", D("7.00"), D("7.00"), "clawback_recorded"),
    ]
    _assert_one_operation(entries, purchase=purchase)
    assert balances(user) == {"pending": ZERO, "available": ZERO, "paid": D("7.00"), "clawback": D("7.00")}


def test_r115_reversal_when_available_is_empty_records_only_clawback(merchant):
    user = UserFactory()
    purchase = ingest(user, merchant, "100.00")
    confirm(purchase)
    paid_out(user, "10.00")  # available 0.00
    before = last_entry_id()

    reverse(purchase)

    entries = entries_after(before)
    # d = 0: no `available −0.00` entry.
    assert as_rows(entries) == [("clawback", D("10.00"), D("10.00"), "clawback_recorded")]
    _assert_one_operation(entries, purchase=purchase)
    assert balances(user) == {"pending": ZERO, "available": ZERO, "paid": D("10.00"), "clawback": D("10.00")}


def test_r116_confirmation_pays_down_clawback_before_available(merchant):
    user = UserFactory()
    first = ingest(user, merchant, "100.00")
    confirm(first)
    paid_out(user, "7.00")
    reverse(first)  # clawback 7.00, available 0.00
    small = ingest(user, merchant, "50.00")  # 5.00 < clawback
    large = ingest(user, merchant, "100.00")  # 10.00 > what is left of the clawback

    before = last_entry_id()
    confirm(small)
    small_entries = entries_after(before)

    # c − s = 0: no available entry; the clawback shrinks, available stays 0.
    assert as_rows(small_entries) == [
        ("pending", D("-5.00"), D("10.00"), "cashback_confirmed"),
        ("clawback", D("-5.00"), D("2.00"), "clawback_settled"),
    ]
    _assert_one_operation(small_entries, purchase=small)
    assert balances(user) == {"pending": D("10.00"), "available": ZERO, "paid": D("7.00"), "clawback": D("2.00")}

    before = last_entry_id()
    confirm(large)
    large_entries = entries_after(before)

    assert as_rows(large_entries) == [
        ("pending", D("-10.00"), D("0.00"), "cashback_confirmed"),
        ("clawback", D("-2.00"), D("0.00"), "clawback_settled"),
        ("available", D("8.00"), D("8.00"), "cashback_confirmed"),
    ]
    _assert_one_operation(large_entries, purchase=large)
    assert balances(user) == {"pending": ZERO, "available": D("8.00"), "paid": D("7.00"), "clawback": ZERO}
    assert run_reconcile("--user", str(user.pk))[0] == 0


def test_r118_zero_cashback_writes_no_entry_through_its_whole_life(merchant):
    user = UserFactory()
    before = last_entry_id()

    earned_nothing = ingest(user, merchant, "0.04")  # 10 % of 0.04 = 0.004 → 0.00
    assert CashbackTransaction.objects.get(purchase=earned_nothing).amount == ZERO
    confirm(earned_nothing)
    reverse(earned_nothing)

    assert entries_after(before) == []
    assert balances(user) == ALL_ZERO
    assert CashbackTransaction.objects.get(purchase=earned_nothing).status == CashbackStatus.REVERSED


def test_r118_zero_cashback_rejection_writes_no_entry(merchant):
    user = UserFactory()
    purchase = ingest(user, merchant, "0.04")
    before = last_entry_id()

    reject(purchase)

    assert entries_after(before) == []
    assert balances(user) == ALL_ZERO


def test_r111_payout_rows_request_pay_and_return_with_clawback_settled_first(merchant):
    user = UserFactory()
    purchase = ingest(user, merchant, "100.00")
    confirm(purchase)  # available 10.00

    before = last_entry_id()
    payout = request_payout(user, "6.00")
    requested = entries_after(before)
    assert as_rows(requested) == [("available", D("-6.00"), D("4.00"), "payout_requested")]
    _assert_one_operation(requested, payout=payout)
    # In flight: in no balance.
    assert balances(user) == {**ALL_ZERO, "available": D("4.00")}

    before = last_entry_id()
    pay_payout(payout)
    assert as_rows(entries_after(before)) == [("paid", D("6.00"), D("6.00"), "payout_paid")]

    returned = request_payout(user, "4.00")  # available 0.00
    reverse(purchase)  # d = 0: clawback 10.00
    before = last_entry_id()
    moved = fail_payout(returned)
    entries = entries_after(before)
    assert as_rows(entries) == [("clawback", D("-4.00"), D("6.00"), "clawback_settled")]
    _assert_one_operation(entries, payout=returned)
    assert moved == {"clawback_settled": "4.00", "returned_to_available": "0.00"}
    assert balances(user) == {"pending": ZERO, "available": ZERO, "paid": D("6.00"), "clawback": D("6.00")}
    assert run_reconcile("--user", str(user.pk))[0] == 0


# --- refused movements -------------------------------------------------------------


def test_r114_a_movement_that_would_make_a_balance_negative_raises_and_writes_nothing(merchant):
    user = UserFactory()
    ingest(user, merchant, "100.00")  # pending 10.00
    before = last_entry_id()

    with pytest.raises(LedgerInvariantBroken) as refused:
        with transaction.atomic():
            wallet = wallet_services.lock_wallet(user.pk)
            movement = wallet_services._Movement(wallet, actor=Actor.system())
            movement.move(BalanceName.PENDING, D("-10.01"), LedgerReason.CASHBACK_CONFIRMED)

    assert refused.value.code == "LEDGER_INVARIANT_BROKEN"
    assert refused.value.details == {"user_id": str(user.pk), "balance": "pending"}
    assert entries_after(before) == []
    assert balances(user) == {**ALL_ZERO, "pending": D("10.00")}


def test_r114_confirmation_against_a_drained_pending_balance_is_refused_and_rolls_back(merchant):
    user = UserFactory()
    purchase = ingest(user, merchant, "100.00")
    Wallet.objects.filter(pk=user.pk).update(pending_balance=D("4.00"))  # corrupted behind the ledger
    before = last_entry_id()

    with pytest.raises(LedgerInvariantBroken):
        confirm(purchase)

    assert entries_after(before) == []
    assert Purchase.objects.get(pk=purchase.pk).status == PurchaseStatus.PENDING
    assert CashbackTransaction.objects.get(purchase=purchase).status == CashbackStatus.PENDING
    assert balances(user) == {**ALL_ZERO, "pending": D("4.00")}


def test_withdrawing_an_already_reversed_cashback_is_refused(merchant):
    user = UserFactory()
    purchase = ingest(user, merchant, "100.00")
    reverse(purchase)
    before = last_entry_id()

    with pytest.raises(LedgerInvariantBroken):
        with transaction.atomic():
            wallet_services.withdraw_cashback(purchase=purchase, actor=Actor.system(), rejected=False)

    assert entries_after(before) == []
    assert balances(user) == ALL_ZERO


def test_r111_the_database_refuses_a_zero_entry_and_a_negative_balance_after(merchant):
    user = UserFactory()
    common = dict(wallet_id=user.pk, operation_id=uuid.uuid4(), balance=BalanceName.PENDING,
                  reason=LedgerReason.CASHBACK_EARNED, actor_type=ActorType.SYSTEM)
    with pytest.raises(DatabaseError), transaction.atomic():
        LedgerEntry.objects.create(amount=ZERO, balance_after=ZERO, **common)
    with pytest.raises(DatabaseError), transaction.atomic():
        LedgerEntry.objects.create(amount=D("-1.00"), balance_after=D("-1.00"), **common)
    with pytest.raises(DatabaseError), transaction.atomic():
        Wallet.objects.filter(pk=user.pk).update(available_balance=D("-0.01"))
    assert not LedgerEntry.objects.filter(wallet_id=user.pk).exists()


# --- append-only ------------------------------------------------------------------------


@pytest.fixture
def one_entry(merchant):
    user = UserFactory()
    ingest(user, merchant, "100.00")
    return LedgerEntry.objects.get(wallet_id=user.pk)


def test_r112_saving_an_existing_entry_raises(one_entry):
    one_entry.amount = D("99.00")

    with pytest.raises(AppendOnlyError):
        one_entry.save()

    assert LedgerEntry.objects.get(pk=one_entry.pk).amount == D("10.00")


def test_r112_deleting_an_entry_raises(one_entry):
    with pytest.raises(AppendOnlyError):
        one_entry.delete()

    assert LedgerEntry.objects.filter(pk=one_entry.pk).exists()


@pytest.mark.parametrize("statement", [
    "UPDATE wallets_ledgerentry SET amount = 99 WHERE id = %s",
    "UPDATE wallets_ledgerentry SET balance_after = balance_after WHERE id = %s",
    "DELETE FROM wallets_ledgerentry WHERE id = %s",
])
def test_r112_the_database_trigger_rejects_raw_update_and_delete(one_entry, statement):
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [one_entry.pk])

    stored = LedgerEntry.objects.get(pk=one_entry.pk)
    assert (stored.amount, stored.balance_after) == (D("10.00"), D("10.00"))


def test_r112_orm_bulk_update_and_delete_are_rejected_by_the_database(one_entry):
    with pytest.raises(DatabaseError), transaction.atomic():
        LedgerEntry.objects.filter(pk=one_entry.pk).update(reason=LedgerReason.CASHBACK_REVERSED)
    with pytest.raises(DatabaseError), transaction.atomic():
        LedgerEntry.objects.filter(pk=one_entry.pk).delete()

    assert LedgerEntry.objects.get(pk=one_entry.pk).reason == LedgerReason.CASHBACK_EARNED


# --- Outside a transaction: needs autocommit, so transaction=True --------------------


@pytest.mark.django_db(transaction=True)
def test_r117_a_movement_outside_transaction_atomic_raises():
    user = UserFactory()
    wallet = Wallet.objects.get(pk=user.pk)

    with pytest.raises(RuntimeError, match="transaction.atomic"):
        wallet_services._Movement(wallet, actor=Actor.system())


@pytest.mark.django_db(transaction=True)
def test_r117_earning_outside_transaction_atomic_raises_and_writes_nothing():
    user = UserFactory()
    merchant = live_merchant()
    with transaction.atomic():
        purchase = ingest(user, merchant, "100.00")
    cashback_before = CashbackTransaction.objects.count()
    before = last_entry_id()
    wallet = Wallet.objects.get(pk=user.pk)
    other = Purchase.objects.create(
        external_id="outside-atomic", user=user, merchant=merchant, offer=purchase.offer, amount=D("10.00"),
        currency="EUR", cashback_amount=D("1.00"), created_at=purchase.created_at,
    )

    with pytest.raises(RuntimeError):
        wallet_services.earn_cashback(wallet=wallet, purchase=other, amount=D("1.00"), actor=Actor.system())

    assert CashbackTransaction.objects.count() == cashback_before
    assert entries_after(before) == []
    assert balances(user) == {**ALL_ZERO, "pending": D("10.00")}


# --- concurrent movements on one wallet serialize ---------------------------------


@pytest.mark.django_db(transaction=True)
def test_r6_concurrent_confirmations_of_one_users_purchases_lose_no_update():
    user = UserFactory()
    merchant = live_merchant()
    purchases = [ingest(user, merchant, f"{10 * (i + 1)}.00") for i in range(6)]  # 1.00 … 6.00

    outcomes = run_together(*[lambda p=p: confirm(p) for p in purchases])
    errors = [o for o in outcomes if isinstance(o, BaseException)]

    assert errors == []
    assert balances(user) == {**ALL_ZERO, "available": D("21.00")}
    available = list(LedgerEntry.objects.filter(wallet_id=user.pk, balance=BalanceName.AVAILABLE).order_by("id"))
    running = [sum((e.amount for e in available[: i + 1]), ZERO) for i in range(len(available))]
    assert len(available) == 6
    assert [e.balance_after for e in available] == running  # the chain holds under concurrency
    status, output, _ = run_reconcile("--user", str(user.pk))
    assert status == 0, output
