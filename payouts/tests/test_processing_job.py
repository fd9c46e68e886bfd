"""The payout batch job `process_payouts` (R-177…R-181, R-129, R-146) and its crash recovery.

In-process passes go through `call_command("process_payouts", "--once")` or
`payouts.processing.run_pass`; the races, SIGTERM and SIGKILL run real `manage.py` processes
against the test database (committed data, `transaction=True`)."""

import csv
import datetime as dt
import io
import itertools
import logging
import signal
import subprocess
import threading
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
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
from payouts import processing, services
from payouts.exceptions import PayoutInvalidTransition
from payouts.management.commands.process_payouts import CSV_COLUMNS
from payouts.models import Payout, PayoutIdempotencyKey, PayoutStatus
from payouts.processing import run_pass
from payouts.providers import TransferResult
from payouts.views import render_payout
from purchases import services as purchase_services
from wallets.models import LedgerEntry, LedgerReason, Wallet

D = Decimal
FLAG = "payout_auto_process"
_external_ids = itertools.count(1)


# --- helpers -------------------------------------------------------------------------------------


def today() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date()


def merchant_with_offer():
    """A merchant whose live offer pays a fixed 100.00 per purchase."""
    merchant = MerchantFactory()
    offer_services.create_offer(
        merchant_id=merchant.pk, cashback_type="fixed", cashback_value=D("100.00"), start_date=today(),
        end_date=today() + timedelta(days=30), monthly_cap=D("10000.00"), actor=Actor.system(),
    )
    return merchant


def funded_user(merchant=None):
    """A user with 100.00 available: one purchase ingested and confirmed (R-69, R-91)."""
    user = UserFactory()
    purchase = purchase_services.ingest_purchase(
        user_id=user.pk, merchant_id=(merchant or merchant_with_offer()).pk,
        external_id=f"pay-ord-{next(_external_ids):06d}", amount=D("500.00"), currency="EUR",
        actor=Actor.of_user(user),
    )
    purchase_services.confirm_purchase(purchase_id=purchase.pk, actor=Actor.system())
    return user


def request(user, amount: str = "50.00", key: str | None = None) -> Payout:
    return services.request_payout(
        user=user, amount=D(amount), method="bank_transfer", details={}, idempotency_key=key,
        actor=Actor.of_user(user), render=render_payout,
    ).payout


def approve(payout: Payout, admin) -> Payout:
    return services.change_payout_status(payout_id=payout.pk, target="approved", actor=Actor.of_user(admin))


def approved_payout(user, admin, amount: str = "50.00") -> Payout:
    return approve(request(user, amount), admin)


def fresh(payout: Payout) -> Payout:
    return Payout.objects.get(pk=payout.pk)


def wallet_of(user) -> Wallet:
    return Wallet.objects.get(user=user)


def paid_entries(payout) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(payout=payout, reason=LedgerReason.PAYOUT_PAID))


def audits(payout, action=None) -> list[AuditLog]:
    rows = AuditLog.objects.filter(resource_type="payout", resource_id=str(payout.pk)).order_by("occurred_at")
    return list(rows.filter(action=action) if action else rows)


def payout_job(*args) -> str:
    out = io.StringIO()
    call_command("process_payouts", "--once", *args, stdout=out)
    return out.getvalue()


def summary_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("process_payouts: ")]


def summary_counts(output: str) -> dict:
    line = summary_lines(output)[-1].removeprefix("process_payouts: ")
    return {k: int(v) for k, v in (part.split("=") for part in line.split())}


def make_processing(payout: Payout, started_minutes_ago: float) -> Payout:
    """A payout some worker claimed (approved → processing, R-126) that many minutes ago."""
    services.change_payout_status(payout_id=payout.pk, target="processing", actor=Actor.system())
    Payout.objects.filter(pk=payout.pk).update(
        processing_started_at=timezone.now() - timedelta(minutes=started_minutes_ago))
    return fresh(payout)


class RecordingProvider:
    """Succeeds like the simulation and remembers the payouts in call order."""

    def __init__(self):
        self.calls = []

    def transfer(self, *, payout_id, user_id, amount, currency, method, details):
        self.calls.append(payout_id)
        return TransferResult(succeeded=True, external_reference=f"SIM-{payout_id}")


@pytest.fixture
def admin(db):
    return AdminFactory()


@pytest.fixture
def several_payouts_per_user(settings):
    """Lift the 48 h spacing (R-123) so one user can have several payouts in a test."""
    settings.PAYOUT_MIN_INTERVAL_HOURS = 0


def start_job(args, env, out_path: Path) -> subprocess.Popen:
    """`manage.py process_payouts <args>` as its own process on the test database; output to `out_path`."""
    return start_manage_py("process_payouts", args, env, out_path)


# --- paying approved payouts (R-177…) ------------------------------------------


@pytest.mark.django_db
def test_approved_payouts_are_paid_and_requested_ones_untouched(admin, several_payouts_per_user):
    user = funded_user()
    paid_one = approved_payout(user, admin, "30.00")
    waiting = request(user, "20.00")

    output = payout_job()

    assert output == "process_payouts: claimed=1 paid=1 failed=0 untouched=0 errors=0 keys_purged=0\n"
    payout = fresh(paid_one)
    assert payout.status == PayoutStatus.PAID
    assert payout.external_reference == f"SIM-{payout.pk}"
    assert payout.processing_started_at is not None and payout.processed_at is not None
    wallet = wallet_of(user)
    assert (wallet.available_balance, wallet.paid_balance) == (D("50.00"), D("30.00"))
    [entry] = paid_entries(paid_one)
    assert (entry.balance, entry.amount, entry.actor_type) == ("paid", D("30.00"), "system")
    [processing_audit] = audits(paid_one, AuditAction.PAYOUT_PROCESSING)
    [paid_audit] = audits(paid_one, AuditAction.PAYOUT_PAID)
    for row in (processing_audit, paid_audit):
        assert (row.actor_type, row.actor_id, row.outcome) == ("system", None, "success")
    assert paid_audit.details["external_reference"] == f"SIM-{payout.pk}"
    # The payout an admin has not approved is never touched (R-120: the job moves only approved money).
    assert fresh(waiting).status == PayoutStatus.REQUESTED
    assert [a.action for a in audits(waiting)] == [AuditAction.PAYOUT_REQUESTED]
    assert_wallets_reconcile()


@pytest.mark.django_db
def test_payouts_are_claimed_by_approved_at_then_id(admin):
    payouts = [approved_payout(funded_user(), admin) for _ in range(4)]
    base = timezone.now() - timedelta(hours=1)
    moments = [base + timedelta(minutes=2), base, base + timedelta(minutes=1), base]
    for payout, moment in zip(payouts, moments, strict=True):
        Payout.objects.filter(pk=payout.pk).update(approved_at=moment)
    provider = RecordingProvider()

    run_pass(batch_size=50, provider=provider)

    expected = [str(p.pk) for p, _ in sorted(zip(payouts, moments, strict=True), key=lambda pm: (pm[1], pm[0].pk))]
    assert provider.calls == expected  # ORDER BY approved_at, id


@pytest.mark.django_db
def test_batch_size_limits_how_many_payouts_a_pass_pays(admin):
    payouts = [approved_payout(funded_user(), admin) for _ in range(3)]

    output = payout_job("--batch-size", "2")

    assert summary_counts(output)["paid"] == 2
    assert [fresh(p).status for p in payouts] == ["paid", "paid", "approved"]


@pytest.mark.django_db
def test_a_failed_transfer_marks_the_payout_failed_and_returns_the_money(settings, admin):
    unlucky, lucky = funded_user(), funded_user()
    settings.PAYOUT_FAILURE_USER_ID = f"  {str(unlucky.pk).upper()} "
    failing, fine = approved_payout(unlucky, admin, "40.00"), approved_payout(lucky, admin, "40.00")

    output = payout_job()

    assert summary_counts(output) == {"claimed": 2, "paid": 1, "failed": 1, "untouched": 0, "errors": 0,
                                      "keys_purged": 0}
    payout = fresh(failing)
    assert payout.status == PayoutStatus.FAILED
    assert payout.status_reason == "Simulated transfer failure"
    assert payout.processed_at is not None and payout.external_reference is None
    wallet = wallet_of(unlucky)
    assert (wallet.available_balance, wallet.paid_balance) == (D("100.00"), D("0.00"))  # money back
    assert paid_entries(failing) == []
    assert LedgerEntry.objects.filter(payout=failing, reason=LedgerReason.PAYOUT_RETURNED,
                                      amount=D("40.00")).count() == 1
    [failed_audit] = audits(failing, AuditAction.PAYOUT_FAILED)
    assert failed_audit.actor_type == "system" and failed_audit.details["reason"] == "Simulated transfer failure"
    assert fresh(fine).status == PayoutStatus.PAID
    assert_wallets_reconcile()


@pytest.mark.django_db
def test_auto_process_flag_off_makes_the_pass_do_nothing(admin):
    payout = approved_payout(funded_user(), admin)
    set_flag(key=FLAG, enabled=False, actor=Actor.system())
    audit_count, ledger_count = AuditLog.objects.count(), LedgerEntry.objects.count()

    output = payout_job()

    assert output == "process_payouts: paused by feature flag payout_auto_process; keys_purged=0\n"
    assert fresh(payout).status == PayoutStatus.APPROVED
    assert (AuditLog.objects.count(), LedgerEntry.objects.count()) == (audit_count, ledger_count)

    # the flag is global; a user-scoped record neither pauses nor resumes the job.
    set_flag(key=FLAG, enabled=True, scope_type="user", scope_id=payout.user_id, actor=Actor.system())
    assert "paused" in payout_job()
    set_flag(key=FLAG, enabled=True, actor=Actor.system())
    assert summary_counts(payout_job())["paid"] == 1
    assert fresh(payout).status == PayoutStatus.PAID


@pytest.mark.django_db
def test_expired_idempotency_keys_are_purged_at_the_start_of_a_pass(several_payouts_per_user):
    # rows older than 24 h go; younger ones stay and still replay.
    user = funded_user()
    request(user, "10.00", key="old-key")
    request(user, "10.00", key="young-key")
    PayoutIdempotencyKey.objects.filter(key="old-key").update(created_at=timezone.now() - timedelta(hours=25))
    PayoutIdempotencyKey.objects.filter(key="young-key").update(created_at=timezone.now() - timedelta(hours=23))

    output = payout_job()

    assert summary_counts(output)["keys_purged"] == 1
    assert list(PayoutIdempotencyKey.objects.values_list("key", flat=True)) == ["young-key"]
    assert Payout.objects.filter(user=user).count() == 2  # the payouts themselves are kept


# --- crash recovery and races with admins (R-178, R-180, R-181) -----------------------------------


@pytest.mark.django_db
def test_a_stale_processing_payout_is_reclaimed_and_paid_but_a_fresh_one_is_left_alone(admin, caplog):
    stale = make_processing(approved_payout(funded_user(), admin), started_minutes_ago=16)
    busy = make_processing(approved_payout(funded_user(), admin), started_minutes_ago=1)

    with caplog.at_level(logging.WARNING, logger="clicknback.jobs.process_payouts"):
        output = payout_job()

    assert summary_counts(output)["paid"] == 1
    payout = fresh(stale)
    assert payout.status == PayoutStatus.PAID and payout.external_reference == f"SIM-{payout.pk}"
    assert payout.processing_started_at > stale.processing_started_at  # the clock restarted on re-claim
    assert len(paid_entries(stale)) == 1
    # the re-claim is audited like a first claim (the dead worker's claim + this one).
    reclaims = audits(stale, AuditAction.PAYOUT_PROCESSING)
    assert [r.actor_type for r in reclaims] == ["system", "system"]
    assert any(str(stale.pk) in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    # Someone may still be transferring this one: hands off.
    assert fresh(busy).status == PayoutStatus.PROCESSING and paid_entries(busy) == []
    assert fresh(busy).processing_started_at == busy.processing_started_at
    assert len(audits(busy, AuditAction.PAYOUT_PROCESSING)) == 1
    assert_wallets_reconcile()


class AdminActsDuringTransfer:
    """A provider during whose transfer an admin changes the payout over their own connection."""

    def __init__(self, admin, target: str, **change):
        self.admin, self.target, self.change = admin, target, change
        self.admin_error = None
        self.admin_finished = False

    def transfer(self, *, payout_id, user_id, amount, currency, method, details):
        def admin_changes_status():
            try:
                services.change_payout_status(payout_id=payout_id, target=self.target,
                                              actor=Actor.of_user(self.admin), **self.change)
            except Exception as exc:  # noqa: BLE001 — checked by the test
                self.admin_error = exc
            finally:
                connections.close_all()

        thread = threading.Thread(target=admin_changes_status)
        thread.start()
        thread.join(timeout=10)
        # the provider is called outside any transaction — no row lock makes the admin wait.
        self.admin_finished = not thread.is_alive()
        return TransferResult(succeeded=True, external_reference=f"SIM-{payout_id}")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("target", ["failed", "paid"])
def test_an_admin_deciding_the_payout_during_the_transfer_wins_and_the_job_changes_nothing(target, caplog):
    admin = AdminFactory()
    user = funded_user()
    payout = approved_payout(user, admin, "60.00")
    change = {"reason": "Account closed"} if target == "failed" else {"external_reference": "BANK-MANUAL-7"}
    provider = AdminActsDuringTransfer(admin, target, **change)

    with caplog.at_level(logging.WARNING, logger="clicknback.jobs.process_payouts"):
        summary = run_pass(batch_size=50, provider=provider)

    assert provider.admin_finished and provider.admin_error is None
    assert (summary.claimed, summary.paid, summary.failed, summary.untouched) == (1, 0, 0, 1)
    now = fresh(payout)
    assert now.status == target
    wallet = wallet_of(user)
    if target == "failed":
        assert now.status_reason == "Account closed" and now.external_reference is None
        assert (wallet.available_balance, wallet.paid_balance) == (D("100.00"), D("0.00"))
        assert paid_entries(payout) == []
    else:
        assert now.external_reference == "BANK-MANUAL-7"  # not overwritten by the provider's reference
        assert (wallet.available_balance, wallet.paid_balance) == (D("40.00"), D("60.00"))
        [entry] = paid_entries(payout)  # money moved once, by the admin
        assert entry.actor_type == "admin"
    final_audits = [a for a in audits(payout) if a.action in (AuditAction.PAYOUT_PAID, AuditAction.PAYOUT_FAILED)]
    assert [(a.action, a.actor_type) for a in final_audits] == [(f"PAYOUT_{target.upper()}", "admin")]
    # a warning carrying the provider's answer.
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(payout.pk) in w and f"SIM-{payout.pk}" in w for w in warnings), warnings
    assert_wallets_reconcile()


@pytest.mark.django_db(transaction=True)
def test_an_admin_cannot_reject_a_payout_the_job_is_transferring():
    # processing → rejected is not a transition; the transfer then completes normally.
    admin = AdminFactory()
    user = funded_user()
    payout = approved_payout(user, admin, "60.00")
    provider = AdminActsDuringTransfer(admin, "rejected", reason="Changed my mind")

    summary = run_pass(batch_size=50, provider=provider)

    assert isinstance(provider.admin_error, PayoutInvalidTransition)
    assert provider.admin_error.details["current_status"] == "processing"
    assert summary.paid == 1 and fresh(payout).status == PayoutStatus.PAID
    assert wallet_of(user).paid_balance == D("60.00")
    assert_wallets_reconcile()


@pytest.mark.django_db
def test_a_provider_error_on_one_payout_leaves_it_processing_and_the_pass_continues(admin, caplog):
    first, broken, last = (approved_payout(funded_user(), admin) for _ in range(3))

    class FlakyProvider(RecordingProvider):
        def transfer(self, *, payout_id, **kwargs):
            if payout_id == str(broken.pk):
                raise TimeoutError("provider did not answer")
            return super().transfer(payout_id=payout_id, **kwargs)

    with caplog.at_level(logging.ERROR, logger="clicknback.jobs.process_payouts"):
        summary = run_pass(batch_size=50, provider=FlakyProvider())

    assert (summary.claimed, summary.paid, summary.errors) == (3, 2, 1)
    assert fresh(first).status == fresh(last).status == PayoutStatus.PAID
    # The claim was committed before the call: it waits for the stale rule, not paid twice.
    assert fresh(broken).status == PayoutStatus.PROCESSING and paid_entries(broken) == []
    assert any(str(broken.pk) in r.getMessage() and r.exc_info for r in caplog.records)
    assert_wallets_reconcile()


class _Runaway(BaseException):
    """Raised by a fake after too many calls: the pass must stop on its own long before."""


@pytest.mark.django_db
def test_an_error_while_claiming_one_payout_rolls_back_only_that_claim_and_the_pass_continues(
    admin, monkeypatch, caplog
):
    # R-181 for transaction 1: the payout stays approved (nothing half-written) and is not retried
    # in a loop; the other payouts are paid.
    first, poison, last = (approved_payout(funded_user(), admin) for _ in range(3))
    real_apply_status = services.apply_status
    poison_calls = []

    def apply_status(*, payout, target, **kwargs):
        if payout.pk == poison.pk and target == PayoutStatus.PROCESSING:
            poison_calls.append(1)
            if len(poison_calls) > 5:
                raise _Runaway("the same payout is claimed again and again")
            raise RuntimeError("audit insert failed")
        return real_apply_status(payout=payout, target=target, **kwargs)

    monkeypatch.setattr(services, "apply_status", apply_status)

    with caplog.at_level(logging.ERROR, logger="clicknback.jobs.process_payouts"):
        summary = run_pass(batch_size=50, provider=RecordingProvider())

    assert len(poison_calls) == 1
    # The error names the payout that failed (not the one handled before it).
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert str(poison.pk) in error.getMessage() and error.exc_info
    assert (summary.paid, summary.errors) == (2, 1)
    assert fresh(first).status == fresh(last).status == PayoutStatus.PAID
    assert fresh(poison).status == PayoutStatus.APPROVED
    assert audits(poison, AuditAction.PAYOUT_PROCESSING) == []
    assert_wallets_reconcile()


@pytest.mark.django_db
def test_a_failing_claim_query_ends_the_pass_instead_of_spinning(admin, monkeypatch):
    approved_payout(funded_user(), admin)
    calls = []

    def broken_claimable():
        calls.append(1)
        if len(calls) > 20:
            raise _Runaway("the pass keeps retrying a failing claim")
        raise ConnectionError("server closed the connection unexpectedly")

    monkeypatch.setattr(processing, "claimable", broken_claimable)

    summary = run_pass(batch_size=50, provider=RecordingProvider())

    assert len(calls) == 1 and summary.errors == 1 and summary.paid == 0


# --- --dry-run and --csv -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_dry_run_lists_what_would_be_paid_and_changes_nothing(admin, several_payouts_per_user):
    user = funded_user()
    approved = approved_payout(user, admin, "10.00")
    stale = make_processing(approved_payout(user, admin, "11.00"), started_minutes_ago=30)
    busy = make_processing(approved_payout(user, admin, "12.00"), started_minutes_ago=1)
    requested = request(user, "13.00", key="dry-key")
    PayoutIdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=30))
    before = (list(Payout.objects.order_by("id").values()), AuditLog.objects.count(), LedgerEntry.objects.count(),
              PayoutIdempotencyKey.objects.count())

    out = io.StringIO()
    call_command("process_payouts", "--dry-run", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines == [
        f"would pay {approved.pk} 10.00 EUR to {user.email} (approved)",
        f"would pay {stale.pk} 11.00 EUR to {user.email} (processing)",
    ]
    assert str(busy.pk) not in out.getvalue() and str(requested.pk) not in out.getvalue()
    after = (list(Payout.objects.order_by("id").values()), AuditLog.objects.count(), LedgerEntry.objects.count(),
             PayoutIdempotencyKey.objects.count())
    assert after == before


@pytest.mark.django_db
def test_csv_gets_a_header_and_one_row_per_paid_or_failed_payout(settings, admin, tmp_path):
    lucky, unlucky = funded_user(), funded_user()
    settings.PAYOUT_FAILURE_USER_ID = str(unlucky.pk)
    paid = approved_payout(lucky, admin, "25.00")
    failed = approved_payout(unlucky, admin, "35.00")
    request(funded_user(), "15.00")  # requested: not part of the report
    path = tmp_path / "payouts.csv"

    payout_job("--csv", str(path))

    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == CSV_COLUMNS
    by_id = {row[0]: dict(zip(CSV_COLUMNS, row, strict=True)) for row in rows[1:]}
    assert set(by_id) == {str(paid.pk), str(failed.pk)}
    paid_row, failed_row = by_id[str(paid.pk)], by_id[str(failed.pk)]
    processed_at = fresh(paid).processed_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert paid_row == {
        "payout_id": str(paid.pk), "user_id": str(lucky.pk), "user_email": lucky.email, "amount": "25.00",
        "currency": "EUR", "method": "bank_transfer", "status": "paid", "external_reference": f"SIM-{paid.pk}",
        "status_reason": "", "processed_at": processed_at,
    }
    assert (failed_row["status"], failed_row["status_reason"], failed_row["amount"], failed_row["external_reference"]) \
        == ("failed", "Simulated transfer failure", "35.00", "")

    # A later run appends its rows under the same header.
    later = approved_payout(funded_user(), admin, "45.00")
    payout_job("--csv", str(path))
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert [row[0] for row in rows].count("payout_id") == 1
    assert len(rows) == 4 and rows[-1][0] == str(later.pk)


@pytest.mark.django_db
def test_an_unwritable_csv_path_is_refused_before_any_money_moves(admin, tmp_path):
    payout = approved_payout(funded_user(), admin)

    with pytest.raises(CommandError):
        payout_job("--csv", str(tmp_path / "no-such-dir" / "payouts.csv"))

    assert fresh(payout).status == PayoutStatus.APPROVED and paid_entries(payout) == []


@pytest.mark.django_db
@pytest.mark.parametrize("args", [["--batch-size", "0"], ["--interval", "0"], ["--batch-size", "-1"]])
def test_nonsensical_batch_size_or_interval_is_a_usage_error(args):
    with pytest.raises(CommandError):
        payout_job(*args)


# --- real processes (rules.md §15) -----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_together_pay_every_payout_exactly_once(tmp_path, several_payouts_per_user):
    admin = AdminFactory()
    merchant = merchant_with_offer()
    users = [funded_user(merchant) for _ in range(10)]
    payouts = [approved_payout(user, admin, "20.00") for user in users for _ in range(3)]
    env = manage_py_env(PAYOUT_SIMULATED_DELAY_SECONDS="0.05")
    processes, outputs = run_manage_py_workers("process_payouts", ["--once"], env, tmp_path)

    assert [p.returncode for p in processes] == [0, 0], outputs
    counts = [summary_counts(output) for output in outputs]
    assert sum(c["paid"] for c in counts) == 30 and sum(c["errors"] for c in counts) == 0, outputs
    assert all(c["paid"] > 0 for c in counts), f"the workers did not overlap: {outputs}"
    for payout in payouts:
        assert fresh(payout).status == PayoutStatus.PAID
        assert len(paid_entries(payout)) == 1
        assert len(audits(payout, AuditAction.PAYOUT_PROCESSING)) == 1
        assert len(audits(payout, AuditAction.PAYOUT_PAID)) == 1
    for user in users:
        wallet = wallet_of(user)
        assert (wallet.available_balance, wallet.paid_balance) == (D("40.00"), D("60.00"))
    assert_wallets_reconcile()


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_transfer_leaves_the_payout_processing_and_a_later_run_pays_it_once(tmp_path):
    admin = AdminFactory()
    user = funded_user()
    payout = approved_payout(user, admin, "70.00")
    process = start_job(["--once"], manage_py_env(PAYOUT_SIMULATED_DELAY_SECONDS=5), tmp_path / "killed.log")
    try:
        wait_until(lambda: fresh(payout).status == PayoutStatus.PROCESSING, 30, "the claim")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        stop_processes([process])

    assert process.returncode == -signal.SIGKILL
    stuck = fresh(payout)
    assert stuck.status == PayoutStatus.PROCESSING and stuck.processed_at is None
    assert paid_entries(payout) == [] and wallet_of(user).paid_balance == D("0.00")
    assert_wallets_reconcile()  # the money is in flight, not lost

    # Not yet stale under the default 15 minutes: a normal run leaves it alone.
    assert summary_counts(payout_job())["claimed"] == 0

    recovery = start_job(["--once"], manage_py_env(PAYOUT_STALE_PROCESSING_MINUTES=0), tmp_path / "recovery.log")
    try:
        recovery.wait(timeout=60)
    finally:
        stop_processes([recovery])

    output = (tmp_path / "recovery.log").read_text()
    assert recovery.returncode == 0, output
    assert summary_counts(output)["paid"] == 1
    paid = fresh(payout)
    assert paid.status == PayoutStatus.PAID and paid.external_reference == f"SIM-{payout.pk}"
    assert len(paid_entries(payout)) == 1
    assert len(audits(payout, AuditAction.PAYOUT_PAID)) == 1
    wallet = wallet_of(user)
    assert (wallet.available_balance, wallet.paid_balance) == (D("30.00"), D("70.00"))
    assert_wallets_reconcile()


@pytest.mark.django_db(transaction=True)
def test_sigterm_during_a_transfer_finishes_that_payout_then_exits_0(tmp_path):
    admin = AdminFactory()
    payouts = [approved_payout(funded_user(), admin) for _ in range(3)]
    log = tmp_path / "loop.log"
    process = start_job(["--interval", "60"], manage_py_env(PAYOUT_SIMULATED_DELAY_SECONDS="1.5"), log)
    try:
        wait_until(lambda: Payout.objects.filter(status=PayoutStatus.PROCESSING).exists(), 30, "the first claim")
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
    finally:
        stop_processes([process])

    assert process.returncode == 0, log.read_text()
    statuses = sorted(fresh(p).status for p in payouts)
    assert statuses == ["approved", "approved", "paid"]  # the current transfer finished; no new one began
    assert len(summary_lines(log.read_text())) == 1
    assert_wallets_reconcile()
