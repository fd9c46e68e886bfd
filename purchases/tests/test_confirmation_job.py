"""The purchase confirmation job (R-170…R-176) and the shared job loop (rules.md §15).

In-process passes go through `call_command("confirm_purchases", "--once")` or
`purchases.confirmation.run_pass`; the races and the signal handling run real `manage.py`
processes against the test database (committed data, `transaction=True`)."""

import datetime as dt
import io
import itertools
import logging
import os
import signal
import subprocess
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from accounts.tests.factories import AdminFactory, UserFactory
from clicknback.audit.models import AuditAction, AuditLog
from clicknback.audit.services import Actor
from clicknback.flags.services import set_flag
from clicknback.testing import (
    assert_wallets_reconcile,
    manage_py_env,
    run_manage_py_workers,
    start_manage_py,
    stop_processes,
    wait_until,
)
from merchants.tests.factories import MerchantFactory
from offers import services as offer_services
from purchases import confirmation, services
from purchases.confirmation import run_pass
from purchases.models import Purchase, PurchaseStatus
from purchases.verification import PENDING, Verdict
from wallets.models import CashbackStatus, CashbackTransaction, LedgerEntry, LedgerReason, Wallet

D = Decimal
CASHBACK = D("100.00")
FLAG = "purchase_auto_confirm"
NO_MATCH_REASON = "No matching bank movement after 3 verification attempts."
_external_ids = itertools.count(1)


# --- helpers -------------------------------------------------------------------------------------


def today() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date()


def merchant_with_offer(monthly_cap: str = "10000.00"):
    """A merchant whose live offer pays a fixed 100.00 per purchase (cap 10000.00 a month unless told)."""
    merchant = MerchantFactory()
    offer_services.create_offer(
        merchant_id=merchant.pk, cashback_type="fixed", cashback_value=D("100.00"), start_date=today(),
        end_date=today() + timedelta(days=30), monthly_cap=D(monthly_cap), actor=Actor.system(),
    )
    return merchant


def ingest(user, merchant, amount: str = "250.00") -> Purchase:
    return services.ingest_purchase(
        user_id=user.pk, merchant_id=merchant.pk, external_id=f"job-ord-{next(_external_ids):06d}",
        amount=D(amount), currency="EUR", actor=Actor.of_user(user),
    )


def fresh(purchase: Purchase) -> Purchase:
    return Purchase.objects.get(pk=purchase.pk)


def wallet_of(user) -> Wallet:
    return Wallet.objects.get(user=user)


def confirm_job(*args) -> str:
    """`manage.py confirm_purchases --once [args]`; returns what it printed."""
    out = io.StringIO()
    call_command("confirm_purchases", "--once", *args, stdout=out)
    return out.getvalue()


def one_pass(verifier=None, batch_size: int = 100, interval: int = 60):
    return run_pass(batch_size=batch_size, interval=timedelta(seconds=interval), verifier=verifier)


def confirmed_entries(purchase) -> list:
    """The pending-balance leg of a confirmation (R-91): pending −c, reason cashback_confirmed."""
    return list(LedgerEntry.objects.filter(purchase=purchase, reason=LedgerReason.CASHBACK_CONFIRMED,
                                           balance="pending"))


def audit_rows(purchase, action) -> list[AuditLog]:
    return list(AuditLog.objects.filter(resource_type="purchase", resource_id=str(purchase.pk), action=action))


def make_due(*purchases) -> None:
    """Time passes: the deferred purchases' next verification moment is reached."""
    Purchase.objects.filter(pk__in=[p.pk for p in purchases]).update(
        next_verification_at=timezone.now() - timedelta(seconds=1))


class RecordingVerifier:
    """Confirms everything and remembers the order it saw purchases in."""

    def __init__(self):
        self.seen = []

    def verify(self, purchase) -> Verdict:
        self.seen.append(purchase.pk)
        return Verdict("confirmed")


class ChargebackVerifier:
    """A hard decline, as a real bank integration could answer (R-173)."""

    def verify(self, purchase) -> Verdict:
        return Verdict("rejected", "Card payment was charged back.")


class SlowVerifier:
    """Used by the `manage.py` subprocesses (PURCHASE_VERIFIER_CLASS): confirms after a short pause,
    so two workers really overlap; writes each purchase id to JOB_TRACE_FILE when set."""

    def verify(self, purchase) -> Verdict:
        trace = os.environ.get("JOB_TRACE_FILE")
        if trace:
            with open(trace, "a") as handle:
                handle.write(f"{purchase.pk}\n")
        time.sleep(float(os.environ.get("SLOW_VERIFIER_SECONDS", "0.05")))
        return Verdict("confirmed")


def start_job(args, env, out_path: Path) -> subprocess.Popen:
    """`manage.py confirm_purchases <args>` as its own process on the test database; output to `out_path`."""
    return start_manage_py("confirm_purchases", args, env, out_path)


def summary_lines(output: str) -> list[str]:
    """The `confirm_purchases: claimed=… …` lines the command printed, one per pass (R-176)."""
    return [line for line in output.splitlines() if line.startswith("confirm_purchases: ")]


def summary_counts(output: str) -> dict:
    """The numbers of the last pass's summary line."""
    line = summary_lines(output)[-1]
    return {k: int(v) for k, v in (part.split("=") for part in line.removeprefix("confirm_purchases: ").split())}


# --- confirming due purchases (R-171, R-173, R-174) -----------------------------------------------


@pytest.mark.django_db
def test_due_pending_purchases_are_confirmed_with_ledger_and_system_audit_and_a_summary_line():
    user, other = UserFactory(), UserFactory()
    merchant = merchant_with_offer()
    first, second = ingest(user, merchant), ingest(other, merchant)

    output = confirm_job()

    # the operator sees what the pass did.
    assert output == ("confirm_purchases: claimed=2 confirmed=2 rejected=0 deferred=0 skipped_by_flag=0 "
                      "errors=0\n")
    for purchase, owner in ((first, user), (second, other)):
        purchase = fresh(purchase)
        assert purchase.status == PurchaseStatus.CONFIRMED and purchase.confirmed_at is not None
        assert purchase.verification_attempts == 1 and purchase.last_verification_at is not None
        assert purchase.cashback_amount == CASHBACK
        wallet = wallet_of(owner)
        assert (wallet.pending_balance, wallet.available_balance) == (D("0.00"), CASHBACK)
        assert CashbackTransaction.objects.get(purchase=purchase).status == CashbackStatus.AVAILABLE
        [entry] = confirmed_entries(purchase)
        assert entry.amount == -CASHBACK and entry.actor_type == "system"
        [audit] = audit_rows(purchase, AuditAction.PURCHASE_CONFIRMED)
        assert (audit.actor_type, audit.actor_id, audit.outcome) == ("system", None, "success")
        assert audit.details["from"] == "pending" and audit.details["to"] == "confirmed"
    assert_wallets_reconcile()


@pytest.mark.django_db
def test_the_pass_logs_its_counts(caplog):
    ingest(UserFactory(), merchant_with_offer())

    with caplog.at_level(logging.INFO, logger="clicknback.jobs.confirm_purchases"):
        one_pass()

    assert any("confirm_purchases pass: claimed=1 confirmed=1 rejected=0 deferred=0 skipped_by_flag=0" in r.message
               for r in caplog.records)


@pytest.mark.django_db
def test_purchases_are_claimed_oldest_first_by_created_at_then_id():
    # ORDER BY created_at, id.
    user, merchant = UserFactory(), merchant_with_offer()
    purchases = [ingest(user, merchant) for _ in range(5)]
    base = timezone.now() - timedelta(hours=1)
    moments = [base + timedelta(minutes=3), base + timedelta(minutes=1), base + timedelta(minutes=2), base, base]
    for purchase, moment in zip(purchases, moments, strict=True):
        Purchase.objects.filter(pk=purchase.pk).update(created_at=moment)
    verifier = RecordingVerifier()

    one_pass(verifier)

    expected = [p.pk for p, _ in sorted(zip(purchases, moments, strict=True), key=lambda pm: (pm[1], pm[0].pk))]
    assert verifier.seen == expected


@pytest.mark.django_db
def test_batch_size_limits_a_pass_to_the_oldest_purchases():
    user, merchant = UserFactory(), merchant_with_offer()
    purchases = [ingest(user, merchant) for _ in range(5)]

    output = confirm_job("--batch-size", "2")

    assert summary_counts(output)["claimed"] == 2
    assert [fresh(p).status for p in purchases] == ["confirmed"] * 2 + ["pending"] * 3
    assert wallet_of(user).available_balance == D("200.00")
    assert wallet_of(user).pending_balance == D("300.00")


@pytest.mark.django_db
def test_a_purchase_whose_next_verification_is_in_the_future_is_not_claimed():
    user, merchant = UserFactory(), merchant_with_offer()
    later, due = ingest(user, merchant), ingest(user, merchant)
    Purchase.objects.filter(pk=later.pk).update(next_verification_at=timezone.now() + timedelta(minutes=5))
    Purchase.objects.filter(pk=due.pk).update(next_verification_at=timezone.now() - timedelta(minutes=5))

    output = confirm_job()

    assert summary_counts(output)["claimed"] == 1
    assert fresh(later).status == PurchaseStatus.PENDING and fresh(later).verification_attempts == 0
    assert fresh(due).status == PurchaseStatus.CONFIRMED


@pytest.mark.django_db
def test_purchases_of_a_since_deactivated_user_and_merchant_are_still_confirmed():
    # deactivation stops new business but money already owed keeps flowing.
    from accounts.models import User
    from merchants.models import Merchant

    user, merchant = UserFactory(), merchant_with_offer()
    purchase = ingest(user, merchant)
    User.objects.filter(pk=user.pk).update(is_active=False)
    Merchant.objects.filter(pk=merchant.pk).update(active=False)

    assert one_pass().confirmed == 1
    assert fresh(purchase).status == PurchaseStatus.CONFIRMED
    assert wallet_of(user).available_balance == CASHBACK


@pytest.mark.django_db
def test_a_purchase_with_zero_cashback_after_the_cap_is_confirmed_without_ledger_entries():
    # a 0.00 cashback writes no entry, and confirming it must not fail every pass.
    user, merchant = UserFactory(), merchant_with_offer(monthly_cap="100.00")
    capped = ingest(user, merchant)
    over_cap = ingest(user, merchant)
    assert over_cap.cashback_amount == D("0.00")

    summary = one_pass()

    assert (summary.confirmed, summary.errors) == (2, 0)
    assert fresh(over_cap).status == PurchaseStatus.CONFIRMED
    assert LedgerEntry.objects.filter(purchase=over_cap).count() == 0
    assert wallet_of(user).available_balance == CASHBACK and fresh(capped).status == PurchaseStatus.CONFIRMED
    assert_wallets_reconcile()


# --- purchase_auto_confirm (R-164, R-172) -----------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("scope", ["user", "merchant"])
def test_auto_confirm_off_for_the_user_or_merchant_skips_without_counting_an_attempt(scope):
    user, merchant = UserFactory(), merchant_with_offer()
    paused = ingest(user, merchant)
    bystander = ingest(UserFactory(), merchant_with_offer())
    scope_id = user.pk if scope == "user" else merchant.pk
    set_flag(key=FLAG, enabled=False, scope_type=scope, scope_id=scope_id, actor=Actor.system())

    before = timezone.now()
    output = confirm_job("--interval", "120")
    after = timezone.now()

    assert summary_counts(output) == {"claimed": 2, "confirmed": 1, "rejected": 0, "deferred": 0,
                                      "skipped_by_flag": 1, "errors": 0}
    paused = fresh(paused)
    assert paused.status == PurchaseStatus.PENDING
    assert paused.verification_attempts == 0 and paused.last_verification_at is None  # not an attempt
    assert before + timedelta(seconds=120) <= paused.next_verification_at <= after + timedelta(seconds=120)
    assert wallet_of(user).pending_balance == CASHBACK
    assert fresh(bystander).status == PurchaseStatus.CONFIRMED

    # Paused rounds never turn into a rejection: many passes later it is still pending with 0 attempts.
    for _ in range(4):
        make_due(paused)
        confirm_job()
    assert fresh(paused).status == PurchaseStatus.PENDING and fresh(paused).verification_attempts == 0

    # Once the flag allows it again, the next due pass confirms it.
    set_flag(key=FLAG, enabled=True, scope_type=scope, scope_id=scope_id, actor=Actor.system())
    make_due(paused)
    confirm_job()
    assert fresh(paused).status == PurchaseStatus.CONFIRMED and fresh(paused).verification_attempts == 1
    assert_wallets_reconcile()


@pytest.mark.django_db
def test_global_off_with_scoped_overrides_handles_only_the_overridden_user_at_the_overridden_merchant():
    # a global false pauses everything unless a scoped true overrides it for that scope; the
    # purchase is handled only when both its user scope and its merchant scope resolve to true.
    allowed_user, other_user = UserFactory(), UserFactory()
    allowed_merchant, other_merchant = merchant_with_offer(), merchant_with_offer()
    set_flag(key=FLAG, enabled=False, actor=Actor.system())
    set_flag(key=FLAG, enabled=True, scope_type="user", scope_id=allowed_user.pk, actor=Actor.system())
    set_flag(key=FLAG, enabled=True, scope_type="merchant", scope_id=allowed_merchant.pk, actor=Actor.system())
    handled = ingest(allowed_user, allowed_merchant)
    other_users_purchase = ingest(other_user, allowed_merchant)
    other_merchants_purchase = ingest(allowed_user, other_merchant)

    summary = one_pass()

    assert (summary.confirmed, summary.skipped_by_flag) == (1, 2)
    assert fresh(handled).status == PurchaseStatus.CONFIRMED
    for skipped in (other_users_purchase, other_merchants_purchase):
        assert fresh(skipped).status == PurchaseStatus.PENDING and fresh(skipped).verification_attempts == 0
    assert wallet_of(allowed_user).available_balance == CASHBACK
    assert wallet_of(other_user).available_balance == D("0.00")


# --- soft failures and rejections (R-173, R-174) ---------------------------------------------------


@pytest.mark.django_db
def test_rejection_merchant_is_deferred_twice_then_rejected_at_the_third_attempt(settings):
    user = UserFactory()
    rejecting, normal = merchant_with_offer(), merchant_with_offer()
    settings.REJECTION_MERCHANT_ID = str(rejecting.pk).upper()  # compared case-insensitively
    doomed, fine = ingest(user, rejecting), ingest(user, normal)

    for attempt in (1, 2):
        before = timezone.now()
        output = confirm_job("--interval", "60")
        summary = summary_counts(output)
        assert summary["deferred"] == 1 and summary["rejected"] == 0
        purchase = fresh(doomed)
        assert purchase.status == PurchaseStatus.PENDING
        assert purchase.verification_attempts == attempt
        assert purchase.last_verification_at >= before
        assert before + timedelta(seconds=60) <= purchase.next_verification_at <= timezone.now() + timedelta(seconds=60)
        # Not due yet: an immediate second pass leaves it alone.
        assert summary_counts(confirm_job())["claimed"] == 0
        assert fresh(doomed).verification_attempts == attempt
        make_due(doomed)
    assert fresh(fine).status == PurchaseStatus.CONFIRMED
    assert wallet_of(user).pending_balance == CASHBACK

    output = confirm_job()

    assert summary_counts(output)["rejected"] == 1
    purchase = fresh(doomed)
    assert purchase.status == PurchaseStatus.REJECTED
    assert purchase.verification_attempts == 3
    assert purchase.status_reason == NO_MATCH_REASON
    assert purchase.cashback_amount == D("0.00")
    wallet = wallet_of(user)
    assert wallet.pending_balance == D("0.00")
    assert wallet.available_balance == CASHBACK  # only the other merchant's purchase
    [audit] = audit_rows(doomed, AuditAction.PURCHASE_REJECTED)
    assert (audit.actor_type, audit.actor_id) == ("system", None)
    assert audit.details["reason"] == NO_MATCH_REASON
    assert LedgerEntry.objects.filter(purchase=doomed, reason=LedgerReason.CASHBACK_REJECTED,
                                      amount=-CASHBACK).count() == 1
    # A rejected purchase is never claimed again.
    make_due(doomed)
    assert summary_counts(confirm_job())["claimed"] == 0
    assert_wallets_reconcile()


@pytest.mark.django_db
def test_a_hard_decline_of_the_configured_verifier_rejects_with_its_reason(settings):
    settings.PURCHASE_VERIFIER_CLASS = f"{__name__}.ChargebackVerifier"
    user = UserFactory()
    purchase = ingest(user, merchant_with_offer())

    output = confirm_job()

    assert summary_counts(output)["rejected"] == 1
    purchase = fresh(purchase)
    assert purchase.status == PurchaseStatus.REJECTED
    assert purchase.status_reason == "Card payment was charged back."
    assert purchase.verification_attempts == 1  # a hard decline on the first attempt, no retries
    assert wallet_of(user).pending_balance == D("0.00")
    [audit] = audit_rows(purchase, AuditAction.PURCHASE_REJECTED)
    assert audit.actor_type == "system" and audit.details["reason"] == "Card payment was charged back."
    assert_wallets_reconcile()


@pytest.mark.django_db
def test_soft_failures_of_a_custom_verifier_defer_until_the_last_attempt():
    class AlwaysPending:
        def verify(self, purchase):
            return PENDING

    user = UserFactory()
    purchase = ingest(user, merchant_with_offer())
    for _ in range(2):
        assert one_pass(AlwaysPending()).deferred == 1
        make_due(purchase)

    assert one_pass(AlwaysPending()).rejected == 1
    assert fresh(purchase).status_reason == NO_MATCH_REASON


# --- errors and other actors (R-171, R-175) -------------------------------------------------------


@pytest.mark.django_db
def test_an_error_on_one_purchase_rolls_back_only_that_purchase_and_the_pass_continues(caplog):
    user, merchant = UserFactory(), merchant_with_offer()
    first, broken, last = (ingest(user, merchant) for _ in range(3))

    class FailsOnOne:
        def verify(self, purchase):
            if purchase.pk == broken.pk:
                raise ConnectionError("bank API timed out")
            return Verdict("confirmed")

    with caplog.at_level(logging.ERROR, logger="clicknback.jobs.confirm_purchases"):
        summary = one_pass(FailsOnOne())

    assert (summary.claimed, summary.confirmed, summary.errors) == (3, 2, 1)
    assert fresh(first).status == fresh(last).status == PurchaseStatus.CONFIRMED
    broken_now = fresh(broken)
    # Rolled back entirely: not even the attempt counter moved.
    assert broken_now.status == PurchaseStatus.PENDING
    assert broken_now.verification_attempts == 0 and broken_now.last_verification_at is None
    assert confirmed_entries(broken) == [] and audit_rows(broken, AuditAction.PURCHASE_CONFIRMED) == []
    assert wallet_of(user).pending_balance == CASHBACK
    assert any(str(broken.pk) in r.getMessage() and r.exc_info for r in caplog.records)

    # The next pass tries it again.
    assert one_pass().confirmed == 1
    assert fresh(broken).status == PurchaseStatus.CONFIRMED
    assert_wallets_reconcile()


class _Runaway(BaseException):
    """Raised by a fake after too many calls: the pass must stop on its own long before."""


@pytest.mark.django_db
def test_a_failing_claim_query_ends_the_pass_instead_of_spinning(monkeypatch, caplog):
    ingest(UserFactory(), merchant_with_offer())
    calls = []

    def broken_claim(exclude_ids):
        calls.append(1)
        if len(calls) > 20:
            raise _Runaway("the pass keeps retrying a failing claim")
        raise ConnectionError("server closed the connection unexpectedly")

    monkeypatch.setattr(confirmation, "_claim_next", broken_claim)

    with caplog.at_level(logging.ERROR, logger="clicknback.jobs.confirm_purchases"):
        summary = one_pass()

    assert len(calls) == 1
    assert (summary.claimed, summary.errors) == (0, 1)
    assert any(r.exc_info for r in caplog.records)


@pytest.mark.django_db
@pytest.mark.parametrize("decision", ["confirmed", "reversed"])
def test_a_purchase_decided_by_an_admin_is_never_claimed(decision):
    user, merchant, admin = UserFactory(), merchant_with_offer(), AdminFactory()
    purchase = ingest(user, merchant)
    if decision == "confirmed":
        services.confirm_purchase(purchase_id=purchase.pk, actor=Actor.of_user(admin))
    else:
        services.reverse_purchase(purchase_id=purchase.pk, reason="returned", actor=Actor.of_user(admin))
    verifier = RecordingVerifier()

    summary = one_pass(verifier)

    assert summary.claimed == 0 and verifier.seen == []
    assert fresh(purchase).status == decision and fresh(purchase).verification_attempts == 0
    assert [a.actor_type for a in AuditLog.objects.filter(resource_id=str(purchase.pk)).exclude(
        action=AuditAction.PURCHASE_INGESTED)] == ["admin"]
    assert_wallets_reconcile()


@pytest.mark.django_db(transaction=True)
def test_an_admin_confirming_while_the_job_holds_the_purchase_waits_and_money_moves_once():
    # the job's row lock makes the admin's confirmation wait; it then finds the
    # purchase no longer pending. One confirmation, one audit row, one ledger movement.
    import threading

    from purchases.exceptions import PurchaseNotPending

    user, merchant, admin = UserFactory(), merchant_with_offer(), AdminFactory()
    purchase = ingest(user, merchant)
    outcome = {}

    def admin_confirms():
        try:
            services.confirm_purchase(purchase_id=purchase.pk, actor=Actor.of_user(admin))
            outcome["admin"] = "confirmed"
        except PurchaseNotPending:
            outcome["admin"] = "not pending"
        finally:
            connections.close_all()

    class VerifierRacingAnAdmin:
        def verify(self, purchase_):
            thread = threading.Thread(target=admin_confirms)
            thread.start()
            thread.join(timeout=0.5)
            outcome["admin_blocked"] = thread.is_alive()
            self.thread = thread
            return Verdict("confirmed")

    verifier = VerifierRacingAnAdmin()
    summary = one_pass(verifier)
    verifier.thread.join(timeout=10)

    assert outcome == {"admin_blocked": True, "admin": "not pending"}
    assert summary.confirmed == 1
    assert len(audit_rows(purchase, AuditAction.PURCHASE_CONFIRMED)) == 1
    assert audit_rows(purchase, AuditAction.PURCHASE_CONFIRMED)[0].actor_type == "system"
    assert len(confirmed_entries(purchase)) == 1
    assert wallet_of(user).available_balance == CASHBACK
    assert_wallets_reconcile()


@pytest.mark.django_db
@pytest.mark.parametrize("args", [["--batch-size", "0"], ["--interval", "0"], ["--interval", "-5"]])
def test_nonsensical_batch_size_or_interval_is_a_usage_error(args):
    from django.core.management import CommandError

    with pytest.raises(CommandError):
        confirm_job(*args)


# --- real processes (rules.md §15: several copies at once; SIGTERM) --------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_together_confirm_every_purchase_exactly_once(tmp_path):
    users = [UserFactory() for _ in range(4)]
    merchants = [merchant_with_offer(), merchant_with_offer()]
    purchases = [ingest(users[i % 4], merchants[i % 2]) for i in range(40)]
    env = manage_py_env(PURCHASE_VERIFIER_CLASS=f"{__name__}.SlowVerifier", SLOW_VERIFIER_SECONDS="0.05")
    processes, outputs = run_manage_py_workers("confirm_purchases", ["--once"], env, tmp_path)

    assert [p.returncode for p in processes] == [0, 0], outputs
    counts = [summary_counts(output) for output in outputs]
    assert sum(c["confirmed"] for c in counts) == 40 and sum(c["errors"] for c in counts) == 0, outputs
    assert all(c["claimed"] > 0 for c in counts), f"the workers did not overlap: {outputs}"
    for purchase in purchases:
        assert fresh(purchase).status == PurchaseStatus.CONFIRMED
        assert fresh(purchase).verification_attempts == 1
        assert len(audit_rows(purchase, AuditAction.PURCHASE_CONFIRMED)) == 1
        assert len(confirmed_entries(purchase)) == 1
    for user in users:
        assert wallet_of(user).available_balance == 10 * CASHBACK
        assert wallet_of(user).pending_balance == D("0.00")
    assert_wallets_reconcile()


@pytest.mark.django_db(transaction=True)
def test_sigterm_stops_a_sleeping_worker_loop_promptly_with_exit_status_0(tmp_path):
    log = tmp_path / "loop.log"
    process = start_job(["--interval", "60"], manage_py_env(), log)
    try:
        wait_until(lambda: summary_lines(log.read_text()), 30, "the first pass")
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
        elapsed = time.monotonic() - started
    finally:
        stop_processes([process])

    assert process.returncode == 0, log.read_text()
    assert elapsed < 3, f"took {elapsed:.1f}s to stop"
    assert len(summary_lines(log.read_text())) == 1  # no second pass was started


@pytest.mark.django_db(transaction=True)
def test_sigterm_during_a_purchase_finishes_that_purchase_then_exits_0(tmp_path):
    user, merchant = UserFactory(), merchant_with_offer()
    purchases = [ingest(user, merchant) for _ in range(3)]
    trace, log = tmp_path / "trace", tmp_path / "loop.log"
    env = manage_py_env(PURCHASE_VERIFIER_CLASS=f"{__name__}.SlowVerifier", SLOW_VERIFIER_SECONDS="1.5",
                        JOB_TRACE_FILE=trace)
    process = start_job(["--interval", "60"], env, log)
    try:
        wait_until(lambda: trace.exists() and trace.read_text().strip(), 30, "the first verification")
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
    finally:
        stop_processes([process])

    assert process.returncode == 0, log.read_text()
    [in_progress] = trace.read_text().split()
    statuses = {str(p.pk): fresh(p).status for p in purchases}
    assert statuses.pop(in_progress) == PurchaseStatus.CONFIRMED  # the current item was finished
    assert set(statuses.values()) == {PurchaseStatus.PENDING}  # and nothing else was started
    assert summary_counts(log.read_text())["claimed"] == 1
    assert wallet_of(user).available_balance == CASHBACK
    assert_wallets_reconcile()


@pytest.mark.django_db
def test_sigterm_during_a_looping_pass_ends_the_loop_and_gives_the_callers_signal_handlers_back(monkeypatch):
    # rules.md §15, in-process: the loop stops after the pass in which SIGTERM arrived (no 60 s sleep),
    # and a caller such as a shell or a test runner keeps its own SIGINT/SIGTERM handling afterwards.
    from purchases.management.commands import confirm_purchases as command

    handlers_before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    passes = []

    def pass_that_gets_sigterm(**kwargs):
        passes.append(kwargs)
        os.kill(os.getpid(), signal.SIGTERM)
        return confirmation.PassSummary()

    monkeypatch.setattr(command, "run_pass", pass_that_gets_sigterm)
    out = io.StringIO()
    started = time.monotonic()

    call_command("confirm_purchases", "--interval", "60", stdout=out)

    assert time.monotonic() - started < 5
    assert len(passes) == 1 and len(summary_lines(out.getvalue())) == 1
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers_before
