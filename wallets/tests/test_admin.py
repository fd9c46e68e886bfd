"""Back-office for wallets, ledger entries, cashback transactions (view-only, admin.md §2) and the
purchase actions that move wallet money (Confirm, Reverse; admin.md §3), through Django's test client."""

import uuid
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import UserFactory
from clicknback.audit.models import ActorType, AuditAction, AuditLog, Outcome
from clicknback.audit.services import Actor
from clicknback.testing import admin_messages, audit_rows, changelist_columns, changelist_pks, post_admin_action
from purchases.models import Purchase, PurchaseStatus
from wallets import services as wallet_services
from wallets.models import BalanceName, CashbackStatus, CashbackTransaction, LedgerEntry, LedgerReason, Wallet
from wallets.tests.helpers import (
    as_rows,
    balances,
    confirm,
    entries_after,
    ingest,
    last_entry_id,
    live_merchant,
    paid_out,
    reject,
    reverse,
    run_reconcile,
)

pytestmark = pytest.mark.django_db

D = Decimal
WALLETS = "/admin/wallets/wallet/"
LEDGER = "/admin/wallets/ledgerentry/"
CASHBACK = "/admin/wallets/cashbacktransaction/"
PURCHASES = "/admin/purchases/purchase/"


@pytest.fixture
def merchant():
    return live_merchant()  # 10 %


# --- Wallets: list, filters, search --------------------------------------------------------------


@pytest.fixture
def three_wallets(merchant):
    """rich: 10.00 available · owing: 7.00 clawback · idle: nothing."""
    rich = UserFactory(email="rich@example.com")
    confirm(ingest(rich, merchant, "100.00"))
    owing = UserFactory(email="owing@example.com")
    purchase = ingest(owing, merchant, "100.00")
    confirm(purchase)
    paid_out(owing, "7.00")
    reverse(purchase)
    idle = UserFactory(email="idle@example.com")
    return rich, owing, idle


def test_wallet_changelist_shows_the_spec_columns_and_balances(office, three_wallets):
    rich, owing, _ = three_wallets

    response = office.get(WALLETS)

    assert response.status_code == 200
    assert changelist_columns(response) == ["user email", "pending balance", "available balance", "paid balance",
                                       "clawback balance", "updated at"]
    content = response.content.decode()
    assert "rich@example.com" in content and "owing@example.com" in content
    assert "10.00" in content and "7.00" in content


def test_wallet_filters_has_clawback_and_has_available(office, operator, three_wallets):
    rich, owing, idle = three_wallets

    assert changelist_pks(office.get(WALLETS, {"has_clawback": "yes"})) == [owing.pk]
    assert set(changelist_pks(office.get(WALLETS, {"has_clawback": "no"}))) == {rich.pk, idle.pk, operator.pk}
    assert changelist_pks(office.get(WALLETS, {"has_available": "yes"})) == [rich.pk]
    assert set(changelist_pks(office.get(WALLETS, {"has_available": "no"}))) == {owing.pk, idle.pk, operator.pk}


def test_wallet_search_by_email_and_by_full_user_id(office, three_wallets):
    rich, owing, _ = three_wallets

    by_email = office.get(WALLETS, {"q": "owing@"})
    by_id = office.get(WALLETS, {"q": str(rich.pk)})

    assert (by_email.status_code, changelist_pks(by_email)) == (200, [owing.pk])
    assert (by_id.status_code, changelist_pks(by_id)) == (200, [rich.pk])


def test_wallet_changelist_costs_no_query_per_row(office, merchant):
    def queries_with(extra: int) -> int:
        for _ in range(extra):
            UserFactory()
        with CaptureQueriesContext(connection) as queries:
            assert office.get(WALLETS).status_code == 200
        return len(queries)

    assert queries_with(1) == queries_with(10)


@pytest.mark.parametrize("changelist", [LEDGER, CASHBACK, PURCHASES])
def test_money_changelists_cost_no_query_per_row(office, merchant, changelist):
    def queries_with(purchases: int) -> int:
        for _ in range(purchases):
            confirm(ingest(UserFactory(), merchant, "10.00"))
        with CaptureQueriesContext(connection) as queries:
            assert office.get(changelist).status_code == 200
        return len(queries)

    assert queries_with(1) == queries_with(6)


# --- view-only: no add, no change, no delete (A-2, A-3) ------------------------------------------


@pytest.mark.parametrize("changelist", [WALLETS, LEDGER, CASHBACK])
def test_money_models_are_view_only(office, merchant, changelist):
    user = UserFactory()
    purchase = ingest(user, merchant, "100.00")
    pk = {WALLETS: user.pk, LEDGER: LedgerEntry.objects.get(purchase=purchase).pk,
          CASHBACK: CashbackTransaction.objects.get(purchase=purchase).pk}[changelist]

    listing = office.get(changelist)
    detail = office.get(f"{changelist}{pk}/change/")

    assert listing.status_code == 200
    assert listing.context["has_add_permission"] is False
    assert f'href="{changelist}add/"' not in listing.content.decode()
    assert detail.status_code == 200
    assert detail.context["has_change_permission"] is False
    assert detail.context["has_delete_permission"] is False
    assert b'name="_save"' not in detail.content
    assert office.get(f"{changelist}add/").status_code == 403
    assert office.get(f"{changelist}{pk}/delete/").status_code == 403
    assert office.post(f"{changelist}{pk}/delete/", {"post": "yes"}).status_code == 403
    action_form = listing.context["action_form"]
    actions = [name for name, _ in action_form.fields["action"].choices if name] if action_form else []
    assert "delete_selected" not in actions


def test_posting_to_a_wallet_change_url_is_refused_and_no_balance_moves(office, merchant):
    user = UserFactory()
    confirm(ingest(user, merchant, "100.00"))
    before = last_entry_id()
    forged = {"pending_balance": "0.00", "available_balance": "999.00", "paid_balance": "0.00",
              "clawback_balance": "0.00", "_save": "Save",
              "ledger_entries-TOTAL_FORMS": "0", "ledger_entries-INITIAL_FORMS": "0"}

    response = office.post(f"{WALLETS}{user.pk}/change/", forged)

    assert response.status_code == 403
    assert balances(user)["available"] == D("10.00")
    assert entries_after(before) == []


def test_posting_to_ledger_and_cashback_change_urls_is_refused(office, merchant):
    user = UserFactory()
    purchase = ingest(user, merchant, "100.00")
    entry = LedgerEntry.objects.get(purchase=purchase)
    cashback = CashbackTransaction.objects.get(purchase=purchase)

    assert office.post(f"{LEDGER}{entry.pk}/change/", {"amount": "99.00", "_save": "Save"}).status_code == 403
    assert office.post(f"{CASHBACK}{cashback.pk}/change/",
                       {"amount": "99.00", "status": "available", "_save": "Save"}).status_code == 403
    assert office.post(f"{CASHBACK}add/", {"amount": "1.00"}).status_code == 403
    assert LedgerEntry.objects.get(pk=entry.pk).amount == D("10.00")
    cashback.refresh_from_db()
    assert (cashback.amount, cashback.status) == (D("10.00"), CashbackStatus.PENDING)


# --- wallet detail: ledger inline ------------------------------------------------------------------


def _inline_entries(response) -> list[LedgerEntry]:
    (formset,) = [inline.formset for inline in response.context["inline_admin_formsets"]]
    return [form.instance for form in formset.forms]


def test_wallet_detail_shows_its_ledger_entries_newest_first_and_a_link_to_the_ledger(office, merchant):
    user = UserFactory()
    purchase = ingest(user, merchant, "100.00")
    confirm(purchase)
    other = UserFactory()
    ingest(other, merchant, "30.00")

    response = office.get(f"{WALLETS}{user.pk}/change/")

    assert response.status_code == 200
    shown = _inline_entries(response)
    own = list(LedgerEntry.objects.filter(wallet_id=user.pk).order_by("-id"))
    assert [e.pk for e in shown] == [e.pk for e in own]
    assert len(shown) == 3
    content = response.content.decode()
    assert "cashback_confirmed" in content or "Cashback Confirmed" in content
    assert f"{LEDGER}?wallet__user__id__exact={user.pk}" in content


def test_wallet_detail_shows_the_latest_100_entries_of_that_wallet_even_when_others_are_newer(office, merchant):
    # admin.md: "latest 100 ledger entries" — of this wallet, not of the whole ledger.
    user = UserFactory()
    first = ingest(user, merchant, "100.00")
    busy = UserFactory()
    with transaction.atomic():  # 101 newer entries on another wallet, written by the wallet's own movement
        movement = wallet_services._Movement(wallet_services.lock_wallet(busy.pk), actor=Actor.system())
        for _ in range(101):
            movement.move(BalanceName.PAID, D("0.01"), LedgerReason.PAYOUT_PAID)
        movement.save()

    quiet = _inline_entries(office.get(f"{WALLETS}{user.pk}/change/"))
    crowded = _inline_entries(office.get(f"{WALLETS}{busy.pk}/change/"))

    assert [e.pk for e in quiet] == [LedgerEntry.objects.get(purchase=first).pk]
    assert len(crowded) == 100
    assert [e.pk for e in crowded] == list(
        LedgerEntry.objects.filter(wallet_id=busy.pk).order_by("-id").values_list("pk", flat=True)[:100])


def test_wallet_detail_costs_no_query_per_ledger_entry(office, merchant):
    user = UserFactory()
    office.get(f"{WALLETS}{user.pk}/change/")  # warm-up: the session's first request costs one more

    def queries_with(purchases: int) -> int:
        for _ in range(purchases):
            confirm(ingest(user, merchant, "10.00"))
        with CaptureQueriesContext(connection) as queries:
            assert office.get(f"{WALLETS}{user.pk}/change/").status_code == 200
        return len(queries)

    assert queries_with(1) == queries_with(5)


def test_ledger_link_filters_the_ledger_list_on_that_wallet(office, merchant):
    user = UserFactory()
    confirm(ingest(user, merchant, "100.00"))
    ingest(UserFactory(), merchant, "30.00")

    response = office.get(LEDGER, {"wallet__user__id__exact": str(user.pk)})

    assert response.status_code == 200
    assert set(changelist_pks(response)) == set(LedgerEntry.objects.filter(wallet_id=user.pk).values_list("pk", flat=True))


# --- Check consistency: read-only, error messages, no audit row ----------------------------


def test_check_consistency_on_clean_wallets_reports_success(office, merchant):
    user = UserFactory()
    confirm(ingest(user, merchant, "100.00"))
    audit_rows = AuditLog.objects.count()

    response = post_admin_action(office, WALLETS, "check_consistency", [Wallet.objects.get(pk=user.pk)])

    assert response.status_code == 200
    messages = admin_messages(response)
    assert [level for level, _ in messages] == ["success"]
    assert "no mismatch" in messages[0][1]
    assert AuditLog.objects.count() == audit_rows


def test_check_consistency_reports_each_mismatch_as_an_error_and_writes_nothing(office, merchant):
    broken = UserFactory()
    confirm(ingest(broken, merchant, "100.00"))
    clean = UserFactory()
    confirm(ingest(clean, merchant, "100.00"))
    Wallet.objects.filter(pk=broken.pk).update(available_balance=D("12.00"))
    audit_rows, entries = AuditLog.objects.count(), LedgerEntry.objects.count()

    response = post_admin_action(office, WALLETS, "check_consistency",
                                 Wallet.objects.filter(pk__in=[broken.pk, clean.pk]))

    assert response.status_code == 200
    assert admin_messages(response) == [
        ("error", f"MISMATCH user={broken.pk} check=C1 balance=available expected=10.00 actual=12.00"),
        ("error", f"MISMATCH user={broken.pk} check=C2 balance=available expected=10.00 actual=12.00"),
        ("error", f"MISMATCH user={broken.pk} check=C6 balance=- expected=10.00 actual=12.00"),
    ]
    assert AuditLog.objects.count() == audit_rows  # admin.md: no audit row
    assert LedgerEntry.objects.count() == entries
    assert balances(broken)["available"] == D("12.00")  # never fixes anything


# --- Ledger entries and cashback transactions lists ------------------------------------------------


def test_ledger_changelist_columns_filters_and_search(office, merchant):
    user = UserFactory(email="ledger.person@example.com")
    purchase = ingest(user, merchant, "100.00")
    confirm(purchase)
    other = ingest(UserFactory(), merchant, "30.00")
    confirmed = LedgerEntry.objects.filter(purchase=purchase, reason="cashback_confirmed")

    response = office.get(LEDGER)

    assert response.status_code == 200
    for column in ["id", "created at", "user email", "balance", "amount", "balance after", "reason", "purchase",
                   "payout", "actor type"]:
        assert any(column in name for name in changelist_columns(response)), (column, changelist_columns(response))
    assert set(changelist_pks(office.get(LEDGER, {"reason": "cashback_confirmed"}))) == set(confirmed.values_list("pk", flat=True))
    assert set(changelist_pks(office.get(LEDGER, {"balance": "available"}))) == {confirmed.get(balance="available").pk}
    assert set(changelist_pks(office.get(LEDGER, {"actor_type": "admin"}))) == set()
    assert set(changelist_pks(office.get(LEDGER, {"q": "ledger.person"}))) == set(
        LedgerEntry.objects.filter(wallet_id=user.pk).values_list("pk", flat=True))
    assert changelist_pks(office.get(LEDGER, {"q": str(other.pk)})) == [LedgerEntry.objects.get(purchase=other).pk]
    operation = confirmed.first().operation_id
    assert set(changelist_pks(office.get(LEDGER, {"q": str(operation)}))) == set(confirmed.values_list("pk", flat=True))


def test_ledger_search_by_payout_id(office, merchant):
    user = UserFactory()
    confirm(ingest(user, merchant, "100.00"))
    payout = paid_out(user, "4.00")

    response = office.get(LEDGER, {"q": str(payout.pk)})

    assert set(changelist_pks(response)) == set(LedgerEntry.objects.filter(payout=payout).values_list("pk", flat=True))
    assert len(changelist_pks(response)) == 2


def test_cashback_changelist_columns_filter_and_search(office, merchant):
    user = UserFactory(email="cb.person@example.com")
    pending = ingest(user, merchant, "100.00")
    reversed_one = ingest(user, merchant, "30.00")
    reverse(reversed_one)
    ingest(UserFactory(), merchant, "20.00")

    response = office.get(CASHBACK)

    assert response.status_code == 200
    columns = changelist_columns(response)
    for column in ["user email", "purchase", "amount", "status", "created at", "updated at"]:
        assert any(column in name for name in columns), (column, columns)
    reversed_cb = CashbackTransaction.objects.get(purchase=reversed_one)
    assert changelist_pks(office.get(CASHBACK, {"status__exact": "reversed"})) == [reversed_cb.pk]
    assert set(changelist_pks(office.get(CASHBACK, {"q": "cb.person"}))) == {
        reversed_cb.pk, CashbackTransaction.objects.get(purchase=pending).pk}
    assert changelist_pks(office.get(CASHBACK, {"q": str(pending.pk)})) == [CashbackTransaction.objects.get(purchase=pending).pk]


def test_purchase_changelist_columns_filters_and_search(office, merchant):
    buyer = UserFactory(email="shopper@example.com")
    pending = ingest(buyer, merchant, "100.00")
    confirmed = ingest(UserFactory(), merchant, "40.00")
    confirm(confirmed)

    response = office.get(PURCHASES)

    assert response.status_code == 200
    columns = changelist_columns(response)
    for column in ["external id", "user email", "merchant", "amount", "currency", "cashback amount", "status",
                   "source", "verification attempts", "created at"]:
        assert column in columns, (column, columns)
    assert response.context["cl"].list_per_page == 50
    assert changelist_pks(office.get(PURCHASES, {"status__exact": "confirmed"})) == [confirmed.pk]
    assert changelist_pks(office.get(PURCHASES, {"q": "shopper@"})) == [pending.pk]
    assert changelist_pks(office.get(PURCHASES, {"q": pending.external_id})) == [pending.pk]
    assert changelist_pks(office.get(PURCHASES, {"q": str(confirmed.pk)})) == [confirmed.pk]


# --- Purchases: Confirm (R-91, A-5, A-6, R-192) --------------------------------------------------


def test_confirm_action_confirms_pending_purchases_through_the_service(office, operator, merchant):
    user = UserFactory()
    purchase = ingest(user, merchant, "100.00")
    before = last_entry_id()

    response = post_admin_action(office, PURCHASES, "confirm", [purchase])

    assert response.status_code == 200
    assert admin_messages(response) == [("success", "1 succeeded, 0 failed.")]
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.CONFIRMED and purchase.confirmed_at is not None
    entries = entries_after(before)
    assert as_rows(entries) == [
        ("pending", D("-10.00"), D("0.00"), "cashback_confirmed"),
        ("available", D("10.00"), D("10.00"), "cashback_confirmed"),
    ]
    assert {(e.actor_type, e.actor_id) for e in entries} == {(ActorType.ADMIN, operator.pk)}
    (row,) = audit_rows("purchase", purchase, action=AuditAction.PURCHASE_CONFIRMED)
    assert (row.actor_type, row.actor_id, row.outcome) == (ActorType.ADMIN, operator.pk, Outcome.SUCCESS)
    assert balances(user)["available"] == D("10.00")


def test_confirm_action_on_non_pending_fails_per_object_with_a_failure_audit_row(office, operator, merchant):
    user = UserFactory()
    pending = ingest(user, merchant, "100.00")
    already = ingest(user, merchant, "50.00")
    confirm(already)
    gone = ingest(user, merchant, "20.00")
    reverse(gone)
    before = last_entry_id()

    response = post_admin_action(office, PURCHASES, "confirm", [pending, already, gone])

    messages = admin_messages(response)
    assert messages[0] == ("warning", "1 succeeded, 2 failed.")
    errors = [text for level, text in messages[1:] if level == "error"]
    assert len(errors) == 2 and all("PURCHASE_NOT_PENDING" in text for text in errors)
    pending.refresh_from_db()
    assert pending.status == PurchaseStatus.CONFIRMED
    assert Purchase.objects.get(pk=already.pk).status == PurchaseStatus.CONFIRMED
    assert Purchase.objects.get(pk=gone.pk).status == PurchaseStatus.REVERSED
    assert {e.purchase_id for e in entries_after(before)} == {pending.pk}  # failures moved no money
    for refused, status in ((already, "confirmed"), (gone, "reversed")):
        (row,) = audit_rows("purchase", refused, outcome=Outcome.FAILURE)
        assert (row.action, row.actor_type, row.actor_id) == (AuditAction.PURCHASE_CONFIRMED, ActorType.ADMIN,
                                                              operator.pk)
        assert row.details["error_code"] == "PURCHASE_NOT_PENDING"
    assert run_reconcile("--user", str(user.pk))[0] == 0


# --- Purchases: Reverse (R-93, R-115, A-7) --------------------------------------------------------


def test_reverse_action_first_shows_an_intermediate_page_listing_amounts(office, merchant):
    user = UserFactory(email="buyer@example.com")
    purchase = ingest(user, merchant, "123.45")  # cashback 12.34 (12.345 half-even, R-2)
    before = last_entry_id()

    response = office.post(PURCHASES, {"action": "reverse", "index": 0, "_selected_action": [str(purchase.pk)]})

    assert response.status_code == 200
    assert "admin/confirm_action.html" in [t.name for t in response.templates]
    content = response.content.decode()
    assert purchase.external_id in content and "buyer@example.com" in content
    assert "amount 123.45 EUR" in content and "cashback 12.34" in content
    assert 'name="reason"' in content
    assert f'value="{purchase.pk}"' in content
    # Nothing happened yet.
    assert Purchase.objects.get(pk=purchase.pk).status == PurchaseStatus.PENDING
    assert entries_after(before) == []
    assert not audit_rows("purchase", purchase, action=AuditAction.PURCHASE_REVERSED)


def test_reverse_action_with_a_reason_reverses_through_the_service(office, operator, merchant):
    user = UserFactory()
    pending = ingest(user, merchant, "50.00")
    confirmed = ingest(user, merchant, "100.00")
    confirm(confirmed)
    paid_out(user, "7.00")  # available 3.00
    before = last_entry_id()

    response = post_admin_action(office, PURCHASES, "reverse", [pending, confirmed], apply="1", reason="Chargeback 42")

    assert admin_messages(response)[0] == ("success", "2 succeeded, 0 failed.")
    for purchase in (pending, confirmed):
        purchase.refresh_from_db()
        assert (purchase.status, purchase.status_reason, purchase.cashback_amount) == (
            PurchaseStatus.REVERSED, "Chargeback 42", D("0.00"))
    assert sorted(as_rows(entries_after(before))) == sorted([
        ("pending", D("-5.00"), D("0.00"), "cashback_reversed"),
        ("available", D("-3.00"), D("0.00"), "cashback_reversed"),
        ("clawback", D("7.00"), D("7.00"), "clawback_recorded"),
    ])
    assert {(e.actor_type, e.actor_id) for e in entries_after(before)} == {(ActorType.ADMIN, operator.pk)}
    assert balances(user) == {"pending": D("0.00"), "available": D("0.00"), "paid": D("7.00"),
                              "clawback": D("7.00")}
    (row,) = audit_rows("purchase", confirmed, action=AuditAction.PURCHASE_REVERSED)
    assert (row.actor_type, row.actor_id, row.outcome) == (ActorType.ADMIN, operator.pk, Outcome.SUCCESS)
    assert row.details["from"] == "confirmed"
    assert row.details["reason"] == "Chargeback 42"
    assert row.details["clawback_recorded"] == "7.00"
    assert run_reconcile("--user", str(user.pk))[0] == 0


def test_reverse_action_without_a_reason_stores_none(office, merchant):
    purchase = ingest(UserFactory(), merchant, "50.00")

    post_admin_action(office, PURCHASES, "reverse", [purchase], apply="1", reason="")

    purchase.refresh_from_db()
    assert (purchase.status, purchase.status_reason) == (PurchaseStatus.REVERSED, None)


def test_reverse_action_with_a_too_long_reason_shows_the_page_again_and_changes_nothing(office, merchant):
    purchase = ingest(UserFactory(), merchant, "50.00")

    response = office.post(PURCHASES, {"action": "reverse", "index": 0, "_selected_action": [str(purchase.pk)],
                                       "apply": "1", "reason": "x" * 501})

    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    assert Purchase.objects.get(pk=purchase.pk).status == PurchaseStatus.PENDING


def test_reverse_action_refuses_reversed_and_rejected_with_failure_audit_rows(office, operator, merchant):
    user = UserFactory()
    done = ingest(user, merchant, "50.00")
    reverse(done)
    dead = ingest(user, merchant, "60.00")
    reject(dead)
    fine = ingest(user, merchant, "70.00")
    before = last_entry_id()

    response = post_admin_action(office, PURCHASES, "reverse", [done, dead, fine], apply="1", reason="dup")

    messages = admin_messages(response)
    assert messages[0] == ("warning", "1 succeeded, 2 failed.")
    errors = " ".join(text for level, text in messages if level == "error")
    assert "PURCHASE_ALREADY_REVERSED" in errors and "PURCHASE_NOT_REVERSIBLE" in errors
    assert {e.purchase_id for e in entries_after(before)} == {fine.pk}
    (row,) = audit_rows("purchase", done, outcome=Outcome.FAILURE)
    assert (row.action, row.actor_type, row.actor_id) == (AuditAction.PURCHASE_REVERSED, ActorType.ADMIN, operator.pk)
    assert row.details["error_code"] == "PURCHASE_ALREADY_REVERSED"
    (row,) = audit_rows("purchase", dead, outcome=Outcome.FAILURE)
    assert row.details["error_code"] == "PURCHASE_NOT_REVERSIBLE"
    assert Purchase.objects.get(pk=dead.pk).status == PurchaseStatus.REJECTED


# --- Purchase detail page ---------------------------------------------------------------------------


def test_purchase_detail_shows_cashback_transaction_ledger_entries_and_audit_rows(office, merchant):
    user = UserFactory()
    purchase = ingest(user, merchant, "100.00")
    confirm(purchase)
    entries = list(LedgerEntry.objects.filter(purchase=purchase).order_by("id"))

    response = office.get(f"{PURCHASES}{purchase.pk}/change/")

    assert response.status_code == 200
    content = response.content.decode()
    assert "10.00 (available)" in content
    for entry in entries:
        assert f"#{entry.id} {entry.balance} {entry.amount:+} {entry.reason}" in content
    assert "PURCHASE_INGESTED by system (success)" in content
    assert "PURCHASE_CONFIRMED by system (success)" in content
    assert b'name="_save"' not in response.content
    assert response.context["has_change_permission"] is False


def test_purchases_are_view_only_apart_from_the_actions(office, merchant):
    purchase = ingest(UserFactory(), merchant, "100.00")

    assert office.get(f"{PURCHASES}add/").status_code == 403
    assert office.post(f"{PURCHASES}{purchase.pk}/change/", {"status": "confirmed", "_save": "Save"}).status_code == 403
    assert office.post(f"{PURCHASES}{purchase.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Purchase.objects.get(pk=purchase.pk).status == PurchaseStatus.PENDING


def test_a_regular_user_cannot_open_the_back_office_wallet_pages(merchant):
    user = UserFactory()
    client = Client()
    client.force_login(user)

    response = client.get(WALLETS)

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
