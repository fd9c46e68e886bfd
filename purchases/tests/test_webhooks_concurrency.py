"""The webhook under real concurrency and across the purchase lifecycle, on PostgreSQL with real
threads (`transaction=True`): identical deliveries at once (R-201), a storm of mixed events for one
external id (R-96, R-155), and a webhook purchase confirmed by the job, paid out, then reversed by a
webhook into clawback exactly as the admin path does it (R-115)."""

from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.tests.factories import AdminFactory, UserFactory
from clicknback.audit.models import AuditAction, AuditLog
from clicknback.audit.services import Actor
from clicknback.testing import assert_wallets_reconcile, run_together
from conftest import bearer_client
from payouts import services as payout_services
from purchases.confirmation import run_pass
from purchases.models import Purchase, PurchaseStatus, WebhookEvent
from purchases.tests.factories import ingest, live_offer, next_external_id
from purchases.tests.signing import created_body, send, status_body
from wallets.models import CashbackTransaction, LedgerEntry, Wallet

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal
THREADS = 20


def wallet_of(user) -> Wallet:
    return Wallet.objects.get(user=user)


def ledger_of(purchase) -> list[tuple[str, Decimal, str]]:
    return [(e.balance, e.amount, e.reason) for e in LedgerEntry.objects.filter(purchase=purchase).order_by("id")]


def deliver(merchant, body):
    """One delivery on its own client (the thread's own DB connection): (status, JSON body)."""
    response = send(merchant, body, client=APIClient())
    return response.status_code, response.json()


def test_twenty_identical_created_deliveries_at_once_record_one_purchase_and_one_credit():
    # one creates (201); the others wait on (merchant, external_id) and answer as replays (200).
    shopper = UserFactory()
    merchant = live_offer().merchant
    body = created_body(user=shopper, external_id=next_external_id(), amount="100.00")

    results = run_together(*[lambda: deliver(merchant, body)] * THREADS)

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sorted(status for status, _ in results) == [200] * (THREADS - 1) + [201], results  # never a 500
    purchase = Purchase.objects.get()
    assert {answer["id"] for _, answer in results} == {str(purchase.pk)}
    assert CashbackTransaction.objects.count() == 1
    assert ledger_of(purchase) == [("pending", D("5.00"), "cashback_earned")]
    assert AuditLog.objects.filter(action=AuditAction.PURCHASE_INGESTED).count() == 1
    assert wallet_of(shopper).pending_balance == D("5.00")
    assert sorted(WebhookEvent.objects.values_list("response_status", flat=True)) == [200] * (THREADS - 1) + [201]
    assert WebhookEvent.objects.filter(purchase=purchase).count() == THREADS
    assert_wallets_reconcile()


@pytest.mark.parametrize("round_", range(3))
def test_a_storm_of_mixed_events_for_one_external_id_ends_in_a_sequentially_possible_state(round_):
    shopper = UserFactory()
    merchant = live_offer().merchant
    ingest(user=shopper, merchant=merchant, amount="60.00")  # 3.00 pending that must stay untouched
    external_id = next_external_id()
    bodies = (
        [("created", created_body(user=shopper, external_id=external_id, amount="100.00"))] * 8
        + [("confirmed", status_body("confirmed", external_id))] * 6
        + [("reversed", status_body("reversed", external_id, reason="storm"))] * 6
    )

    results = run_together(*[lambda body=body: deliver(merchant, body) for _, body in bodies])

    assert not [r for r in results if isinstance(r, BaseException)], results
    answers = Counter((kind, status, answer.get("error", {}).get("code")) for (kind, _), (status, answer)
                      in zip(bodies, results))
    assert answers[("created", 201, None)] == 1, answers
    allowed = {
        ("created", 201, None), ("created", 200, None),
        ("confirmed", 200, None), ("confirmed", 404, "NOT_FOUND"), ("confirmed", 409, "PURCHASE_STATE_CONFLICT"),
        ("reversed", 200, None), ("reversed", 404, "NOT_FOUND"),
    }
    assert set(answers) <= allowed, answers  # never a 500, never a conflict on identical data

    purchase = Purchase.objects.get(external_id=external_id)
    confirmed_ok = answers[("confirmed", 200, None)]
    reversed_ok = answers[("reversed", 200, None)]
    ledger = ledger_of(purchase)
    wallet = wallet_of(shopper)
    # The final status is the one a serial order of the answered events gives.
    if reversed_ok:
        assert purchase.status == PurchaseStatus.REVERSED
        assert (wallet.pending_balance, wallet.available_balance) == (D("3.00"), D("0.00"))
    elif confirmed_ok:
        assert purchase.status == PurchaseStatus.CONFIRMED
        assert (wallet.pending_balance, wallet.available_balance) == (D("3.00"), D("5.00"))
    else:
        assert purchase.status == PurchaseStatus.PENDING
        assert (wallet.pending_balance, wallet.available_balance) == (D("8.00"), D("0.00"))
    # A confirmation that answered 200 happened before any reversal, and is in the ledger once.
    assert [r for _, _, r in ledger].count("cashback_confirmed") == (2 if confirmed_ok else 0)
    assert answers[("confirmed", 409, "PURCHASE_STATE_CONFLICT")] == 0 or reversed_ok
    # Money moved once per transition.
    assert [r for _, _, r in ledger].count("cashback_earned") == 1
    assert [r for _, _, r in ledger].count("cashback_reversed") == (1 if reversed_ok else 0)
    assert AuditLog.objects.filter(action=AuditAction.PURCHASE_CONFIRMED).count() == (1 if confirmed_ok else 0)
    assert AuditLog.objects.filter(action=AuditAction.PURCHASE_REVERSED).count() == (1 if reversed_ok else 0)
    assert wallet.clawback_balance == D("0.00")
    assert WebhookEvent.objects.filter(merchant=merchant).count() == len(bodies)
    assert_wallets_reconcile()


def pay_out(user, amount: str) -> None:
    """A real payout of `amount`, requested by the user and paid by an operator (R-120…R-127)."""
    payout = payout_services.request_payout(
        user=user, amount=D(amount), method="bank_transfer", details={}, idempotency_key=None,
        actor=Actor.of_user(user), render=lambda payout: "{}",
    ).payout
    operator = Actor.of_user(AdminFactory())
    for target in ["approved", "processing", "paid"]:
        payout_services.change_payout_status(payout_id=payout.pk, target=target, actor=operator)


def test_webhook_purchase_confirmed_by_the_job_paid_out_then_reversed_by_webhook_becomes_clawback_as_for_admins():
    merchant = live_offer().merchant  # 5 %
    by_webhook, by_admin = UserFactory(), UserFactory()
    admin = AdminFactory()

    # The same story twice: recorded (webhook / API), confirmed by the job, 15.00 of 20.00 paid out.
    status, created = deliver(merchant, created_body(user=by_webhook, external_id="wh-1", amount="400.00"))
    assert status == 201, created
    api_purchase = ingest(user=by_admin, merchant=merchant, external_id="api-1", amount="400.00")
    summary = run_pass(batch_size=10, interval=timedelta(seconds=60))
    assert summary.confirmed == 2, summary
    webhook_purchase = Purchase.objects.get(external_id="wh-1")
    assert webhook_purchase.status == PurchaseStatus.CONFIRMED
    for user in (by_webhook, by_admin):
        pay_out(user, "15.00")
        assert (wallet_of(user).available_balance, wallet_of(user).paid_balance) == (D("5.00"), D("15.00"))

    # Reversal: the merchant's webhook for one, an admin for the other.
    status, reversed_ = deliver(merchant, status_body("reversed", "wh-1", reason="Chargeback."))
    assert status == 200 and reversed_["status"] == "reversed", reversed_
    response = bearer_client(admin).patch(f"/api/v1/purchases/{api_purchase.pk}/reverse", {"reason": "Chargeback."},
                                          format="json")
    assert response.status_code == 200, response.content

    # available gives what it has (5.00), the remaining 15.00 becomes clawback — same as the admin path.
    expected_tail = [("available", D("-5.00"), "cashback_reversed"), ("clawback", D("15.00"), "clawback_recorded")]
    assert ledger_of(webhook_purchase)[-2:] == expected_tail
    assert ledger_of(api_purchase)[-2:] == expected_tail
    assert ledger_of(webhook_purchase) == ledger_of(api_purchase)
    for user in (by_webhook, by_admin):
        wallet = wallet_of(user)
        assert (wallet.pending_balance, wallet.available_balance, wallet.paid_balance, wallet.clawback_balance) == (
            D("0.00"), D("0.00"), D("15.00"), D("15.00"))
    audit = AuditLog.objects.get(action=AuditAction.PURCHASE_REVERSED, resource_id=str(webhook_purchase.pk))
    assert (audit.actor_type, audit.actor_id) == ("merchant", merchant.pk)
    assert audit.details["from"] == "confirmed"
    assert_wallets_reconcile()
