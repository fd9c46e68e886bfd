"""Races on real PostgreSQL with real threads (R-6, R-125, R-145, R-200): the requests start together
behind a barrier, each thread on its own connection (closed afterwards); money moves exactly as often
as it should and the ledger still reconciles."""

from decimal import Decimal

import pytest

from accounts.tests.factories import AdminFactory, UserFactory
from clicknback.audit.models import AuditAction, AuditLog
from clicknback.testing import run_together
from conftest import bearer_client
from payouts.models import Payout, PayoutIdempotencyKey, PayoutStatus
from payouts.tests.factories import (
    ME,
    PAYOUTS,
    assert_ledger_reconciles,
    balances,
    give_available,
    hours_ago,
    move,
    request,
)
from wallets.models import LedgerEntry, LedgerReason

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal


@pytest.fixture
def only_balance_binds(settings):
    settings.PAYOUT_MIN_INTERVAL_HOURS = 0
    settings.PAYOUT_WEEKLY_LIMIT = D("1000000.00")


def responses(results) -> list:
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def test_twenty_requests_racing_for_one_balance_pay_out_only_what_is_there(only_balance_binds):
    # the wallet lock serializes them; 3 × 30.00 fit in 100.00, the other 17 are 409.
    user = UserFactory()
    give_available(user, "100.00")

    def ask():
        return bearer_client(user).post(ME, {"amount": "30.00"}, format="json")

    results = responses(run_together(*[ask] * 20))

    codes = sorted(r.status_code for r in results)
    assert codes == [201] * 3 + [409] * 17, [r.content for r in results]
    refused = [r.json()["error"] for r in results if r.status_code == 409]
    assert {e["code"] for e in refused} == {"INSUFFICIENT_BALANCE"}
    assert {e["details"]["requested_amount"] for e in refused} == {"30.00"}
    assert {e["details"]["available_balance"] for e in refused} == {"10.00"}  # every loser saw the final balance
    assert balances(user)["available"] == D("10.00")
    assert Payout.objects.filter(user=user).count() == 3
    assert LedgerEntry.objects.filter(reason=LedgerReason.PAYOUT_REQUESTED).count() == 3
    assert AuditLog.objects.filter(action=AuditAction.PAYOUT_REQUESTED).count() == 3
    # balance_after never went below zero and tells one consistent story.
    afters = list(LedgerEntry.objects.filter(reason=LedgerReason.PAYOUT_REQUESTED).order_by("id")
                  .values_list("balance_after", flat=True))
    assert afters == [D("70.00"), D("40.00"), D("10.00")]
    assert_ledger_reconciles()


def test_ten_simultaneous_requests_with_one_key_create_one_payout(only_balance_binds):
    # the others wait on the key's unique index, then replay the committed answer.
    user = UserFactory()
    give_available(user, "100.00")

    def ask():
        return bearer_client(user).post(ME, {"amount": "30.00"}, format="json", HTTP_IDEMPOTENCY_KEY="same-key")

    results = responses(run_together(*[ask] * 10))

    assert [r.status_code for r in results] == [201] * 10, [r.content for r in results]
    assert len({r.content for r in results}) == 1
    assert sorted(r.get("Idempotent-Replayed") for r in results if r.has_header("Idempotent-Replayed")) == ["true"] * 9
    assert Payout.objects.count() == 1 and PayoutIdempotencyKey.objects.count() == 1
    assert LedgerEntry.objects.filter(reason=LedgerReason.PAYOUT_REQUESTED).count() == 1
    assert AuditLog.objects.filter(action=AuditAction.PAYOUT_REQUESTED).count() == 1
    assert balances(user)["available"] == D("70.00")
    assert_ledger_reconciles()


def test_one_key_with_two_different_bodies_at_once_creates_one_payout(only_balance_binds):
    user = UserFactory()
    give_available(user, "100.00")

    def ask(amount):
        return lambda: bearer_client(user).post(ME, {"amount": amount}, format="json", HTTP_IDEMPOTENCY_KEY="k")

    results = responses(run_together(ask("30.00"), ask("40.00")))

    assert sorted(r.status_code for r in results) == [201, 409]
    assert [r.json()["error"]["code"] for r in results if r.status_code == 409] == ["IDEMPOTENCY_KEY_REUSED"]
    assert Payout.objects.count() == 1
    assert_ledger_reconciles()


def test_two_identical_approvals_at_once_apply_once():
    # the payout row is locked first; the second finds it approved and answers 200, no change.
    user, admin = UserFactory(), AdminFactory()
    give_available(user, "100.00")
    payout = request(user, "30.00")

    def approve():
        return bearer_client(admin).patch(f"{PAYOUTS}/{payout.pk}/status", {"status": "approved"}, format="json")

    results = responses(run_together(approve, approve))

    assert [r.status_code for r in results] == [200, 200], [r.content for r in results]
    assert {r.json()["status"] for r in results} == {"approved"}
    assert results[0].json()["approved_at"] == results[1].json()["approved_at"]
    assert AuditLog.objects.filter(action=AuditAction.PAYOUT_APPROVED, resource_id=str(payout.pk)).count() == 1
    assert_ledger_reconciles()


def test_two_identical_rejections_at_once_return_the_money_once():
    user, admin = UserFactory(), AdminFactory()
    give_available(user, "100.00")
    payout = request(user, "30.00")

    def reject():
        return bearer_client(admin).patch(f"{PAYOUTS}/{payout.pk}/status", {"status": "rejected", "reason": "dup"},
                                          format="json")

    results = responses(run_together(reject, reject))

    assert [r.status_code for r in results] == [200, 200], [r.content for r in results]
    assert balances(user)["available"] == D("100.00")
    assert LedgerEntry.objects.filter(reason=LedgerReason.PAYOUT_RETURNED).count() == 1
    assert AuditLog.objects.filter(action=AuditAction.PAYOUT_REJECTED).count() == 1
    assert_ledger_reconciles()


def test_reject_racing_mark_paid_moves_the_money_once():
    # approved → rejected and approved → paid; whichever locks first wins, the other is 400.
    user, admin = UserFactory(), AdminFactory()
    give_available(user, "100.00")
    payout = move(request(user, "30.00"), PayoutStatus.APPROVED, admin=admin)

    def change(body):
        return lambda: bearer_client(admin).patch(f"{PAYOUTS}/{payout.pk}/status", body, format="json")

    results = responses(run_together(change({"status": "rejected", "reason": "fraud check"}),
                                     change({"status": "paid", "external_reference": "TRX-9"})))

    assert sorted(r.status_code for r in results) == [200, 400], [r.content for r in results]
    loser = next(r for r in results if r.status_code == 400).json()["error"]
    assert loser["code"] == "PAYOUT_INVALID_TRANSITION"
    payout.refresh_from_db()
    assert loser["details"]["current_status"] == payout.status
    assert loser["details"]["allowed_statuses"] == []
    paid = LedgerEntry.objects.filter(reason=LedgerReason.PAYOUT_PAID).count()
    returned = LedgerEntry.objects.filter(reason=LedgerReason.PAYOUT_RETURNED).count()
    if payout.status == PayoutStatus.PAID:
        assert (paid, returned) == (1, 0)
        assert balances(user) == {"pending": D("0.00"), "available": D("70.00"), "paid": D("30.00"),
                                  "clawback": D("0.00")}
    else:
        assert payout.status == PayoutStatus.REJECTED and (paid, returned) == (0, 1)
        assert balances(user)["available"] == D("100.00") and balances(user)["paid"] == D("0.00")
    assert_ledger_reconciles()


def test_a_payout_request_racing_the_rejection_of_another_never_loses_money(only_balance_binds):
    # Lock order payout → wallet against wallet-only: no deadlock, both money moves land.
    user, admin = UserFactory(), AdminFactory()
    give_available(user, "100.00")
    earlier = request(user, "60.00")

    def reject():
        return bearer_client(admin).patch(f"{PAYOUTS}/{earlier.pk}/status", {"status": "rejected", "reason": "x"},
                                          format="json")

    def ask():
        return bearer_client(user).post(ME, {"amount": "40.00"}, format="json")

    results = responses(run_together(reject, ask))

    assert [r.status_code for r in results] == [200, 201], [r.content for r in results]
    assert balances(user)["available"] == D("60.00")
    assert_ledger_reconciles()


def test_simultaneous_retries_with_an_expired_key_create_one_new_payout(only_balance_binds):
    # the first retry deletes the expired row and claims the key afresh; the others wait for it
    # and replay its answer — none may see the key vanish in between (that was a 500).
    user = UserFactory()
    give_available(user, "100.00")
    old = request(user, "30.00", key="expiring")
    PayoutIdempotencyKey.objects.filter(key="expiring").update(created_at=hours_ago(25))

    def ask():
        return bearer_client(user).post(ME, {"amount": "30.00"}, format="json", HTTP_IDEMPOTENCY_KEY="expiring")

    results = responses(run_together(*[ask] * 10))

    assert [r.status_code for r in results] == [201] * 10, [r.content for r in results]
    assert len({r.content for r in results}) == 1
    assert sum(r.has_header("Idempotent-Replayed") for r in results) == 9
    assert Payout.objects.exclude(pk=old.pk).count() == 1
    assert str(PayoutIdempotencyKey.objects.get().payout_id) == results[0].json()["id"]
    assert balances(user)["available"] == D("40.00")
    assert_ledger_reconciles()


def test_simultaneous_requests_under_the_default_policy_let_only_one_through():
    # R-123 is read under the wallet lock too: of five requests at once, one is 201 and four meet the
    # 48 h rule (422) — never two payouts inside the interval.
    user = UserFactory()
    give_available(user, "100.00")

    def ask():
        return bearer_client(user).post(ME, {"amount": "20.00"}, format="json")

    results = responses(run_together(*[ask] * 5))

    assert sorted(r.status_code for r in results) == [201, 422, 422, 422, 422], [r.content for r in results]
    assert {v["rule"] for r in results if r.status_code == 422
            for v in r.json()["error"]["details"]["violations"]} == {"min_interval"}
    assert Payout.objects.count() == 1 and balances(user)["available"] == D("80.00")
    assert_ledger_reconciles()
