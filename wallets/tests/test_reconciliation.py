"""`reconcile_wallets` (R-182…R-185): each check C1…C6 on corrupted data, the exact output lines,
the summary, `--user`, and the exit statuses — through call_command and as a real process."""

import os
import subprocess
import sys
import uuid
from decimal import Decimal

import pytest
from django.db import connection, transaction

from accounts.tests.factories import UserFactory
from clicknback.audit.models import ActorType
from clicknback.testing import PROJECT_ROOT, database_url_of_test_db
from wallets.models import (
    BalanceName,
    CashbackStatus,
    CashbackTransaction,
    LedgerEntry,
    LedgerReason,
    Wallet,
)
from wallets.reconciliation import reconcile
from wallets.tests.helpers import (
    confirm,
    fail_payout,
    ingest,
    live_merchant,
    paid_out,
    reject,
    request_payout,
    reverse,
    run_reconcile,
)

D = Decimal

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant():
    return live_merchant()  # 10 %


def _summary(checked: int, mismatches: int) -> str:
    return f"Checked {checked} wallets, {mismatches} mismatches."


def _lines(output: str) -> list[str]:
    return output.strip().splitlines()


def _confirmed_user(merchant, amount="100.00"):
    """A user with 10.00 available from one confirmed purchase; returns (user, purchase)."""
    user = UserFactory()
    purchase = ingest(user, merchant, amount)
    confirm(purchase)
    return user, purchase


def _append_entry(user, *, balance, amount, balance_after):
    """A ledger row written behind the services' back (inserts are allowed; only UPDATE/DELETE are not)."""
    return LedgerEntry.objects.create(
        wallet_id=user.pk, operation_id=uuid.uuid4(), balance=balance, amount=D(amount),
        balance_after=D(balance_after), reason=LedgerReason.CASHBACK_EARNED, actor_type=ActorType.SYSTEM,
    )


# --- clean data ---------------------------------------------------------------------------------


def test_r183_every_kind_of_activity_reconciles_with_zero_mismatches(merchant):
    # pending, confirmed, rejected, reversed from both states, clawback, clawback settled,
    # an in-flight payout, a paid one and a returned one, a zero-cashback purchase.
    busy = UserFactory()
    confirm(ingest(busy, merchant, "200.00"))  # available 20.00
    ingest(busy, merchant, "35.00")  # pending 3.50
    reject(ingest(busy, merchant, "10.00"))
    reverse(ingest(busy, merchant, "10.00"))
    confirm(ingest(busy, merchant, "0.04"))  # 0.00 cashback
    paid_out(busy, "5.00")
    request_payout(busy, "4.00")  # in flight
    fail_payout(request_payout(busy, "1.00"))
    owing = UserFactory()
    first = ingest(owing, merchant, "100.00")
    confirm(first)
    paid_out(owing, "8.00")
    reverse(first)  # clawback 8.00
    confirm(ingest(owing, merchant, "30.00"))  # clawback 5.00
    UserFactory()  # no activity

    checked, mismatches = reconcile()

    assert mismatches == []
    assert checked == Wallet.objects.count()
    status, output, _ = run_reconcile()
    assert status == 0
    assert _lines(output) == [_summary(Wallet.objects.count(), 0)]


def test_r183_in_flight_payouts_count_in_c6_also_for_one_user(merchant):
    user, _ = _confirmed_user(merchant)
    request_payout(user, "6.00")  # available 4.00 + in flight 6.00 = released 10.00

    assert reconcile(user_id=user.pk) == (1, [])
    assert reconcile()[1] == []


# --- each check, with the exact output ------------------------------------------------------------


def test_r183_c1_stored_balance_differs_from_its_ledger(merchant):
    user, _ = _confirmed_user(merchant)
    Wallet.objects.filter(pk=user.pk).update(available_balance=D("12.00"))

    status, output, _ = run_reconcile("--user", str(user.pk))

    assert status == 1
    assert _lines(output) == [
        f"MISMATCH user={user.pk} check=C1 balance=available expected=10.00 actual=12.00",
        f"MISMATCH user={user.pk} check=C2 balance=available expected=10.00 actual=12.00",
        f"MISMATCH user={user.pk} check=C6 balance=- expected=10.00 actual=12.00",
        _summary(1, 3),
    ]


def test_r183_c1_ledger_entry_without_balance_change(merchant):
    user, _ = _confirmed_user(merchant)
    _append_entry(user, balance=BalanceName.PAID, amount="5.00", balance_after="5.00")

    status, output, _ = run_reconcile("--user", str(user.pk))

    assert status == 1
    assert _lines(output) == [
        f"MISMATCH user={user.pk} check=C1 balance=paid expected=5.00 actual=0.00",
        f"MISMATCH user={user.pk} check=C2 balance=paid expected=5.00 actual=0.00",
        _summary(1, 2),
    ]


def test_r183_c2_broken_balance_after_chain_with_correct_sum(merchant):
    user = UserFactory()
    ingest(user, merchant, "100.00")  # pending 10.00
    # +0.01 then −0.01: the sum still equals the stored 10.00, but the first link lies.
    _append_entry(user, balance=BalanceName.PENDING, amount="0.01", balance_after="7.00")
    _append_entry(user, balance=BalanceName.PENDING, amount="-0.01", balance_after="10.00")

    status, output, _ = run_reconcile("--user", str(user.pk))

    assert status == 1
    assert _lines(output) == [
        f"MISMATCH user={user.pk} check=C2 balance=pending expected=10.01 actual=7.00",
        _summary(1, 1),
    ]


def test_r183_c3_negative_balance_is_reported():
    user = UserFactory()
    with connection.cursor() as cursor:
        # The CHECK of R-114 would refuse the corruption: dropped inside this test's transaction only.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE wallets_wallet DROP CONSTRAINT wallet_paid_non_negative")
    Wallet.objects.filter(pk=user.pk).update(paid_balance=D("-1.00"))

    status, output, _ = run_reconcile("--user", str(user.pk))

    assert status == 1
    assert _lines(output) == [
        f"MISMATCH user={user.pk} check=C1 balance=paid expected=0.00 actual=-1.00",
        f"MISMATCH user={user.pk} check=C3 balance=paid expected=0.00 actual=-1.00",
        f"MISMATCH user={user.pk} check=C6 balance=- expected=0.00 actual=-1.00",
        _summary(1, 3),
    ]


def test_r183_c4_available_while_owing_clawback(merchant):
    user, purchase = _confirmed_user(merchant)
    paid_out(user, "7.00")
    reverse(purchase)  # available 0.00, clawback 7.00
    # Both the ledger and the stored balance say 1.00 available: only the R-116 rule (and C6) breaks.
    _append_entry(user, balance=BalanceName.AVAILABLE, amount="1.00", balance_after="1.00")
    Wallet.objects.filter(pk=user.pk).update(available_balance=D("1.00"))

    status, output, _ = run_reconcile("--user", str(user.pk))

    assert status == 1
    assert _lines(output) == [
        f"MISMATCH user={user.pk} check=C4 balance=available expected=0.00 actual=1.00",
        f"MISMATCH user={user.pk} check=C6 balance=- expected=0.00 actual=1.00",
        _summary(1, 2),
    ]


def test_r183_c5_pending_differs_from_pending_cashback_transactions(merchant):
    user = UserFactory()
    ingest(user, merchant, "50.00")  # 5.00
    purchase = ingest(user, merchant, "100.00")  # 10.00
    CashbackTransaction.objects.filter(purchase=purchase).update(amount=D("12.00"))

    status, output, _ = run_reconcile("--user", str(user.pk))

    assert status == 1
    assert _lines(output) == [
        f"MISMATCH user={user.pk} check=C5 balance=pending expected=17.00 actual=15.00",
        _summary(1, 1),
    ]


def test_r183_c6_released_cashback_differs_from_what_the_wallet_accounts_for(merchant):
    user, purchase = _confirmed_user(merchant)
    CashbackTransaction.objects.filter(purchase=purchase).update(status=CashbackStatus.REVERSED)

    status, output, _ = run_reconcile("--user", str(user.pk))

    assert status == 1
    assert _lines(output) == [
        f"MISMATCH user={user.pk} check=C6 balance=- expected=0.00 actual=10.00",
        _summary(1, 1),
    ]


def test_r183_c6_counts_paid_and_clawback(merchant):
    user, purchase = _confirmed_user(merchant)
    paid_out(user, "7.00")
    reverse(purchase)  # available 0 − clawback 7 + paid 7 = 0 = released (none)
    ingest_confirmed = ingest(user, merchant, "20.00")
    confirm(ingest_confirmed)  # clawback 5.00; released 2.00 = 0 − 5 + 7
    assert reconcile(user_id=user.pk) == (1, [])

    CashbackTransaction.objects.filter(purchase=ingest_confirmed).update(amount=D("2.50"))

    status, output, _ = run_reconcile("--user", str(user.pk))
    assert status == 1
    assert _lines(output) == [
        f"MISMATCH user={user.pk} check=C6 balance=- expected=2.50 actual=2.00",
        _summary(1, 1),
    ]


# --- scope, summary, exit status --------------------------------------------------


def test_r184_all_wallets_are_checked_and_every_mismatch_listed_in_user_order(merchant):
    first, _ = _confirmed_user(merchant)
    second, _ = _confirmed_user(merchant)
    UserFactory()
    for user in (first, second):
        Wallet.objects.filter(pk=user.pk).update(paid_balance=D("1.00"))
    ordered = sorted([first, second], key=lambda u: str(u.pk))

    status, output, _ = run_reconcile()

    assert status == 1
    lines = _lines(output)
    expected = []
    for user in ordered:
        expected += [
            f"MISMATCH user={user.pk} check=C1 balance=paid expected=0.00 actual=1.00",
            f"MISMATCH user={user.pk} check=C6 balance=- expected=10.00 actual=11.00",
        ]
    assert lines == expected + [_summary(Wallet.objects.count(), 4)]


def test_r182_user_option_limits_the_check_to_one_wallet(merchant):
    broken, _ = _confirmed_user(merchant)
    clean, _ = _confirmed_user(merchant)
    Wallet.objects.filter(pk=broken.pk).update(paid_balance=D("1.00"))

    status, output, _ = run_reconcile("--user", str(clean.pk))
    assert (status, _lines(output)) == (0, [_summary(1, 0)])

    status, output, _ = run_reconcile("--user", str(broken.pk).upper())
    assert status == 1
    assert _lines(output)[-1] == _summary(1, 2)
    assert all(f"user={broken.pk}" in line for line in _lines(output)[:-1])


def test_r185_unknown_user_checks_nothing_and_exits_0():
    status, output, _ = run_reconcile("--user", str(uuid.uuid4()))

    assert (status, _lines(output)) == (0, [_summary(0, 0)])


@pytest.mark.parametrize("bad", ["not-a-uuid", "1234", str(uuid.uuid4()).replace("-", "")])
def test_r185_malformed_user_is_a_usage_error_exit_2(bad):
    status, output, error = run_reconcile("--user", bad)

    assert status == 2
    assert "MISMATCH" not in output and "Checked" not in output
    assert "--user" in error


def test_r182_reconcile_never_changes_anything(merchant):
    user, _ = _confirmed_user(merchant)
    Wallet.objects.filter(pk=user.pk).update(available_balance=D("12.00"))
    entries = LedgerEntry.objects.count()

    run_reconcile()
    run_reconcile()

    assert Wallet.objects.get(pk=user.pk).available_balance == D("12.00")
    assert LedgerEntry.objects.count() == entries


# --- as a real process (R-185 exit codes seen by a shell) ----------------------------------------


def _run_process(database_url: str, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "clicknback.settings_test"}
    return subprocess.run(
        [sys.executable, "manage.py", "reconcile_wallets", *args],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )


@pytest.mark.django_db(transaction=True)
def test_r185_command_process_exits_1_and_prints_the_mismatch_then_0_when_clean():
    merchant = live_merchant()
    with transaction.atomic():
        user, _ = _confirmed_user(merchant)
    url = database_url_of_test_db()

    clean = _run_process(url)
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.strip().splitlines() == [_summary(Wallet.objects.count(), 0)]

    Wallet.objects.filter(pk=user.pk).update(available_balance=D("12.00"))
    broken = _run_process(url, "--user", str(user.pk))

    assert broken.returncode == 1, broken.stderr
    assert broken.stdout.strip().splitlines() == [
        f"MISMATCH user={user.pk} check=C1 balance=available expected=10.00 actual=12.00",
        f"MISMATCH user={user.pk} check=C2 balance=available expected=10.00 actual=12.00",
        f"MISMATCH user={user.pk} check=C6 balance=- expected=10.00 actual=12.00",
        _summary(1, 3),
    ]


def test_r185_command_process_exits_2_when_the_database_is_unreachable():
    result = _run_process("postgres://nobody@127.0.0.1:9/none")

    assert result.returncode == 2
    assert "Checked" not in result.stdout
    assert "Cannot run the check" in result.stderr
