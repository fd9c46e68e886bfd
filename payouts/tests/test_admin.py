"""Back-office for payouts (admin.md §2 Payouts, §3 actions, A-1…A-9) through Django's test client:
the changelist, the four actions (with the A-7 intermediate pages), the liabilities dashboard, the
"reconcile now" page and the view-only idempotency keys."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import AdminFactory, UserFactory
from clicknback.audit.models import ActorType, AuditAction, Outcome
from clicknback.audit.services import Actor
from clicknback.testing import admin_messages, audit_rows, changelist_columns, changelist_pks, post_admin_action
from payouts.models import Payout, PayoutIdempotencyKey, PayoutStatus
from payouts.tests.factories import corrupts_ledger, ledger_reconciles_after_each_test  # noqa: F401 (fixtures)
from payouts.tests.factories import (
    assert_ledger_reconciles,
    balances,
    earn,
    give_available,
    live_merchant,
    move,
    payout_in,
    request,
    utc_now,
    written_state,
)
from purchases import services as purchase_services
from wallets.models import BalanceName, LedgerEntry, LedgerReason, Wallet

# after every test of this module (a forged ledger is opted out with `corrupts_ledger`).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ledger_reconciles_after_each_test")]

D = Decimal
S = PayoutStatus
CHANGELIST = "/admin/payouts/payout/"
DASHBOARD = "/admin/payouts/payout/dashboard/"
RECONCILE = "/admin/payouts/payout/reconcile/"
KEYS = "/admin/payouts/payoutidempotencykey/"


@pytest.fixture
def relaxed(settings):
    settings.PAYOUT_MIN_INTERVAL_HOURS = 0
    settings.PAYOUT_WEEKLY_LIMIT = D("1000000.00")


def _fresh(payout) -> Payout:
    payout.refresh_from_db()
    return payout


# --- Changelist: columns, filters, search (admin.md §2, A-9) -----------------------------------------------


@pytest.fixture
def listed_payouts(operator, relaxed):
    """ana: a requested bank transfer · bob: an approved card payout · cy: a paid one with a reference."""
    ana, bob, cy = (UserFactory(email=f"{n}@example.com") for n in ("ana", "bob", "cy"))
    for person in (ana, bob, cy):
        give_available(person, "50.00")
    requested = request(ana, "11.00")
    approved = move(request(bob, "22.00", method="card"), S.APPROVED, admin=operator)
    paid = move(request(cy, "33.00"), S.PAID, admin=operator, external_reference="BANK-7781")
    return requested, approved, paid


def test_payout_changelist_shows_the_spec_columns(office, listed_payouts):
    response = office.get(CHANGELIST)

    assert changelist_columns(response) == ["user email", "id", "amount", "method", "status", "requested at",
                                       "approved at", "processed at", "external reference"]
    content = response.content.decode()
    for text in ("ana@example.com", "bob@example.com", "11.00", "22.00", "33.00", "BANK-7781"):
        assert text in content
    requested, _, _ = listed_payouts
    assert f">{str(requested.pk)[:8]}<" in content  # ids shortened
    assert response.context["cl"].list_per_page == 50


def test_payout_changelist_links_to_the_dashboard_and_reconcile_pages(office):
    content = office.get(CHANGELIST).content.decode()
    assert f'href="{DASHBOARD}"' in content and f'href="{RECONCILE}"' in content


@pytest.mark.parametrize("query, expected", [
    ({"status__exact": "requested"}, [0]), ({"status__exact": "approved"}, [1]), ({"status__exact": "paid"}, [2]),
    ({"status__exact": "failed"}, []), ({"method__exact": "card"}, [1]), ({"method__exact": "bank_transfer"}, [0, 2]),
])
def test_payout_changelist_filters_by_status_and_method(office, listed_payouts, query, expected):
    assert sorted(changelist_pks(office.get(CHANGELIST, query))) == sorted(listed_payouts[i].pk for i in expected)


def test_payout_changelist_has_a_requested_at_date_hierarchy(office, listed_payouts):
    today = utc_now()
    query = {"requested_at__year": today.year, "requested_at__month": today.month, "requested_at__day": today.day}
    assert len(changelist_pks(office.get(CHANGELIST, query))) == 3
    assert changelist_pks(office.get(CHANGELIST, {"requested_at__year": today.year - 1})) == []


@pytest.mark.parametrize("term, expected", [("bob@example", [1]), ("ANA@EXAMPLE.COM", [0]), ("BANK-7781", [2]),
                                            ("nobody", [])])
def test_payout_changelist_searches_email_and_external_reference(office, listed_payouts, term, expected):
    assert changelist_pks(office.get(CHANGELIST, {"q": term})) == [listed_payouts[i].pk for i in expected]


def test_payout_changelist_searches_a_full_payout_id(office, listed_payouts):
    _, approved, _ = listed_payouts
    assert changelist_pks(office.get(CHANGELIST, {"q": str(approved.pk)})) == [approved.pk]
    assert changelist_pks(office.get(CHANGELIST, {"q": str(approved.pk).upper()})) == [approved.pk]


def test_payout_changelist_costs_no_query_per_row(office, operator, relaxed):
    def queries_with(extra: int) -> int:
        for _ in range(extra):
            person = UserFactory()
            give_available(person, "20.00")
            move(request(person, "20.00"), S.APPROVED, admin=operator)
        with CaptureQueriesContext(connection) as queries:
            assert office.get(CHANGELIST).status_code == 200
        return len(queries)

    assert queries_with(1) == queries_with(5)


def test_payouts_are_read_only_no_add_change_or_delete(office, listed_payouts):
    payout = listed_payouts[0]
    listing = office.get(CHANGELIST)
    detail = office.get(f"{CHANGELIST}{payout.pk}/change/")

    assert listing.context["has_add_permission"] is False
    assert detail.status_code == 200
    assert detail.context["has_change_permission"] is False and detail.context["has_delete_permission"] is False
    assert b'name="_save"' not in detail.content
    assert "11.00" in detail.content.decode()
    assert office.get(f"{CHANGELIST}add/").status_code == 403
    assert office.post(f"{CHANGELIST}{payout.pk}/delete/", {"post": "yes"}).status_code == 403
    before = written_state()
    forged = office.post(f"{CHANGELIST}{payout.pk}/change/", {"status": "paid", "amount": "999.00"})
    assert forged.status_code == 403
    assert written_state() == before
    actions = [name for name, _ in listing.context["action_form"].fields["action"].choices if name]
    assert actions == ["approve", "reject", "mark_paid", "mark_failed"]  # no bulk delete


# --- Approve (requested → approved, A-5, A-6) --------------------------------------------------------


def test_approve_moves_each_requested_payout_and_reports_every_failure(office, operator, relaxed):
    a, b, c, d = (UserFactory() for _ in range(4))
    for person in (a, b, c, d):
        give_available(person, "40.00")
    first, second = request(a, "40.00"), request(b, "40.00")
    already = move(request(c, "40.00"), S.APPROVED, admin=operator)
    paid = move(request(d, "40.00"), S.PAID, admin=operator)
    ledger_before = LedgerEntry.objects.count()

    response = post_admin_action(office, CHANGELIST, "approve", [first, second, already, paid])

    assert response.status_code == 200
    messages = admin_messages(response)
    assert messages[0] == ("warning", "2 succeeded, 1 failed, 1 unchanged.")
    assert len(messages) == 2 and messages[1][0] == "error" and "PAYOUT_INVALID_TRANSITION" in messages[1][1]
    for payout in (first, second):
        payout = _fresh(payout)
        assert (payout.status, payout.approved_by_id) == (S.APPROVED, operator.pk)
        [row] = audit_rows("payout", payout, action=AuditAction.PAYOUT_APPROVED)
        assert (row.actor_type, row.actor_id, row.outcome) == (ActorType.ADMIN, operator.pk, Outcome.SUCCESS)
        assert (row.details["from"], row.details["to"], row.details["amount"]) == ("requested", "approved", "40.00")
    assert _fresh(paid).status == S.PAID
    [failure] = audit_rows("payout", paid, outcome=Outcome.FAILURE)
    assert (failure.action, failure.actor_type, failure.actor_id) == (
        AuditAction.PAYOUT_APPROVED, ActorType.ADMIN, operator.pk)
    assert failure.details["error_code"] == "PAYOUT_INVALID_TRANSITION"
    assert failure.details["requested_status"] == "approved"
    # The already-approved payout: a no-op, no second audit row.
    assert len(audit_rows("payout", already, action=AuditAction.PAYOUT_APPROVED)) == 1
    assert LedgerEntry.objects.count() == ledger_before  # approving moves no money
    assert_ledger_reconciles()


def test_approve_of_only_good_payouts_is_a_success_message(office, user):
    give_available(user, "40.00")
    payout = request(user, "40.00")
    response = post_admin_action(office, CHANGELIST, "approve", [payout])
    assert admin_messages(response) == [("success", "1 succeeded, 0 failed.")]


# --- Reject (requested/approved → rejected; A-7 page; reason required) -------------------------------


@pytest.fixture
def two_rejectable(operator):
    a, b = UserFactory(email="ra@example.com"), UserFactory(email="rb@example.com")
    give_available(a, "45.00")
    give_available(b, "60.00")
    return request(a, "45.00"), move(request(b, "60.00"), S.APPROVED, admin=operator)


def test_reject_first_shows_an_intermediate_page_listing_the_payouts_and_amounts(office, two_rejectable):
    before = written_state()

    page = post_admin_action(office, CHANGELIST, "reject", two_rejectable)

    assert page.status_code == 200
    assert "admin/confirm_action.html" in [t.name for t in page.templates]
    content = page.content.decode()
    assert "ra@example.com: 45.00 EUR (requested)" in content
    assert "rb@example.com: 60.00 EUR (approved)" in content
    assert 'name="reason"' in content
    for payout in two_rejectable:
        assert f'value="{payout.pk}"' in content
    assert written_state() == before  # nothing happens before the confirmation


@pytest.mark.parametrize("reason", ["", "   "])
def test_reject_without_a_reason_is_refused_on_the_page(office, two_rejectable, reason):
    before = written_state()
    page = post_admin_action(office, CHANGELIST, "reject", two_rejectable, apply="1", reason=reason)
    assert "admin/confirm_action.html" in [t.name for t in page.templates]
    assert page.context["form"].errors["reason"]
    assert written_state() == before


def test_reject_with_a_reason_over_500_characters_is_refused(office, two_rejectable):
    before = written_state()
    page = post_admin_action(office, CHANGELIST, "reject", two_rejectable, apply="1", reason="r" * 501)
    assert page.context["form"].errors["reason"]
    assert written_state() == before


def test_reject_with_a_reason_returns_the_money(office, operator, two_rejectable):
    first, second = two_rejectable
    owners = [first.user, second.user]

    response = post_admin_action(office, CHANGELIST, "reject", two_rejectable, apply="1",
                                 reason="IBAN does not match the holder")

    assert admin_messages(response) == [("success", "2 succeeded, 0 failed.")]
    for payout, owner, amount in zip(two_rejectable, owners, ("45.00", "60.00"), strict=True):
        payout = _fresh(payout)
        assert payout.status == S.REJECTED
        assert payout.status_reason == "IBAN does not match the holder"
        assert payout.processed_at is not None
        assert balances(owner)["available"] == D(amount)
        [entry] = LedgerEntry.objects.filter(payout=payout, reason=LedgerReason.PAYOUT_RETURNED)
        assert (entry.balance, entry.amount, entry.actor_type, entry.actor_id) == (
            BalanceName.AVAILABLE, D(amount), ActorType.ADMIN, operator.pk)
        [row] = audit_rows("payout", payout, action=AuditAction.PAYOUT_REJECTED)
        assert (row.actor_type, row.actor_id, row.outcome) == (ActorType.ADMIN, operator.pk, Outcome.SUCCESS)
        assert row.details["reason"] == "IBAN does not match the holder"
        assert row.details["amount"] == amount
    assert_ledger_reconciles()


def test_reject_of_a_processing_payout_fails_with_invalid_transition(office, operator, user):
    processing = payout_in(S.PROCESSING, user=user, admin=operator)
    before = LedgerEntry.objects.count()

    response = post_admin_action(office, CHANGELIST, "reject", [processing], apply="1", reason="too late")

    assert admin_messages(response)[0] == ("warning", "0 succeeded, 1 failed.")
    assert "PAYOUT_INVALID_TRANSITION" in admin_messages(response)[1][1]
    assert _fresh(processing).status == S.PROCESSING
    assert LedgerEntry.objects.count() == before
    [failure] = audit_rows("payout", processing, outcome=Outcome.FAILURE)
    assert (failure.action, failure.details["error_code"], failure.details["reason"]) == (
        AuditAction.PAYOUT_REJECTED, "PAYOUT_INVALID_TRANSITION", "too late")


def test_reject_settles_clawback_before_available(office, user):
    # 100 returned, 70 of it pays the clawback first.
    first, _ = give_available(user, "130.00")
    payout = request(user, "100.00")
    purchase_services.reverse_purchase(purchase_id=first.pk, reason=None, actor=Actor.system())

    post_admin_action(office, CHANGELIST, "reject", [payout], apply="1", reason="chargeback on the account")

    assert (balances(user)["available"], balances(user)["clawback"]) == (D("30.00"), D("0.00"))
    assert_ledger_reconciles()


# --- Mark failed (processing → failed; reason required) ---------------------------------------------


def test_mark_failed_needs_a_reason_and_returns_the_money(office, operator):
    a, b = UserFactory(), UserFactory()
    processing = payout_in(S.PROCESSING, user=a, admin=operator, amount="25.00")
    approved = payout_in(S.APPROVED, user=b, admin=operator, amount="35.00")

    page = post_admin_action(office, CHANGELIST, "mark_failed", [processing, approved])
    assert "admin/confirm_action.html" in [t.name for t in page.templates]
    assert "25.00 EUR (processing)" in page.content.decode() and "35.00 EUR (approved)" in page.content.decode()
    refused = post_admin_action(office, CHANGELIST, "mark_failed", [processing, approved], apply="1", reason="")
    assert refused.context["form"].errors["reason"] and _fresh(processing).status == S.PROCESSING

    response = post_admin_action(office, CHANGELIST, "mark_failed", [processing, approved], apply="1",
                                 reason="Beneficiary bank rejected")

    assert admin_messages(response)[0] == ("warning", "1 succeeded, 1 failed.")
    assert "PAYOUT_INVALID_TRANSITION" in admin_messages(response)[1][1]
    processing = _fresh(processing)
    assert (processing.status, processing.status_reason) == (S.FAILED, "Beneficiary bank rejected")
    assert balances(a)["available"] == D("25.00")
    assert _fresh(approved).status == S.APPROVED and balances(b)["available"] == D("0.00")
    [row] = audit_rows("payout", processing, action=AuditAction.PAYOUT_FAILED)
    assert (row.actor_id, row.details["reason"]) == (operator.pk, "Beneficiary bank rejected")
    assert_ledger_reconciles()


# --- Mark paid (approved/processing → paid; optional external reference) -----------------------------


def test_mark_paid_shows_the_page_and_records_the_reference(office, operator):
    a, b, c = UserFactory(), UserFactory(), UserFactory()
    approved = payout_in(S.APPROVED, user=a, admin=operator, amount="15.00")
    processing = payout_in(S.PROCESSING, user=b, admin=operator, amount="16.00")
    requested = payout_in(S.REQUESTED, user=c, admin=operator, amount="17.00")

    page = post_admin_action(office, CHANGELIST, "mark_paid", [approved, processing, requested])
    content = page.content.decode()
    assert "15.00 EUR (approved)" in content and "16.00 EUR (processing)" in content
    assert 'name="external_reference"' in content
    assert _fresh(approved).status == S.APPROVED

    response = post_admin_action(office, CHANGELIST, "mark_paid", [approved, processing, requested], apply="1",
                                 external_reference="SEPA-2026-03-05")

    assert admin_messages(response)[0] == ("warning", "2 succeeded, 1 failed.")
    for payout, owner, amount in ((approved, a, "15.00"), (processing, b, "16.00")):
        payout = _fresh(payout)
        assert (payout.status, payout.external_reference) == (S.PAID, "SEPA-2026-03-05")
        assert payout.processed_at is not None
        assert balances(owner)["paid"] == D(amount) and balances(owner)["available"] == D("0.00")
        [entry] = LedgerEntry.objects.filter(payout=payout, reason=LedgerReason.PAYOUT_PAID)
        assert (entry.balance, entry.amount, entry.actor_id) == (BalanceName.PAID, D(amount), operator.pk)
        [row] = audit_rows("payout", payout, action=AuditAction.PAYOUT_PAID)
        assert row.details["external_reference"] == "SEPA-2026-03-05"
    assert _fresh(requested).status == S.REQUESTED
    assert audit_rows("payout", requested, outcome=Outcome.FAILURE)[0].details["error_code"] == "PAYOUT_INVALID_TRANSITION"
    assert_ledger_reconciles()


def test_mark_paid_without_a_reference_leaves_it_empty(office, operator, user):
    approved = payout_in(S.APPROVED, user=user, admin=operator)
    response = post_admin_action(office, CHANGELIST, "mark_paid", [approved], apply="1", external_reference="")
    assert admin_messages(response) == [("success", "1 succeeded, 0 failed.")]
    assert (_fresh(approved).status, _fresh(approved).external_reference) == (S.PAID, None)
    assert_ledger_reconciles()


# --- Dashboard ----------------------------------------------------------------------------------------


def _figure(content: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}">([^<]*)<', content)
    assert match, element_id
    return match.group(1).strip()


def test_dashboard_sums_what_is_owed_and_what_is_in_the_pipeline(office, operator, relaxed):
    merchant = live_merchant()
    u1, u2, u3 = UserFactory(), UserFactory(), UserFactory()
    give_available(u1, "200.00", merchant=merchant)
    earn(u1, merchant, confirm=False)  # 100.00 pending
    request(u1, "30.00")
    move(request(u1, "40.00"), S.APPROVED, admin=operator)
    move(request(u1, "50.00"), S.PROCESSING, admin=operator)
    move(request(u1, "20.00"), S.PAID, admin=operator)
    move(request(u1, "10.00"), S.REJECTED, admin=operator, reason="x")  # back in available, in no bucket
    [purchase] = give_available(u2, "100.00", merchant=merchant)
    move(request(u2, "100.00"), S.PAID, admin=operator)
    purchase_services.reverse_purchase(purchase_id=purchase.pk, reason=None, actor=Actor.system())  # clawback 100
    give_available(u3, "25.00", merchant=merchant)
    last_month = move(request(u3, "25.00"), S.PAID, admin=operator)
    month_start = utc_now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    Payout.objects.filter(pk=last_month.pk).update(processed_at=month_start - dt.timedelta(microseconds=1))

    response = office.get(DASHBOARD)

    assert response.status_code == 200
    content = response.content.decode()
    assert _figure(content, "sum-pending") == "100.00 EUR"
    assert _figure(content, "sum-available") == "60.00 EUR"  # 200 − 30 − 40 − 50 − 20
    assert _figure(content, "sum-clawback") == "100.00 EUR"
    assert (_figure(content, "awaiting-count"), _figure(content, "awaiting-sum")) == ("1", "30.00 EUR")
    assert (_figure(content, "approved-count"), _figure(content, "approved-sum")) == ("1", "40.00 EUR")
    assert (_figure(content, "processing-count"), _figure(content, "processing-sum")) == ("1", "50.00 EUR")
    assert (_figure(content, "paid-count"), _figure(content, "paid-sum")) == ("2", "120.00 EUR")
    assert f'href="{RECONCILE}"' in content


def test_dashboard_of_an_empty_platform_shows_zero_amounts_with_two_decimals(office):
    content = office.get(DASHBOARD).content.decode()
    for element_id in ("sum-pending", "sum-available", "sum-clawback", "awaiting-sum", "approved-sum",
                       "processing-sum", "paid-sum"):
        assert _figure(content, element_id) == "0.00 EUR", element_id
    assert _figure(content, "awaiting-count") == "0"


def test_dashboard_costs_the_same_queries_whatever_the_data(office, operator, relaxed):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert office.get(DASHBOARD).status_code == 200
        return len(captured)

    empty = queries()
    for _ in range(3):
        person = UserFactory()
        give_available(person, "30.00")
        move(request(person, "30.00"), S.APPROVED, admin=operator)
    assert queries() == empty


# --- Reconcile now -------------------------------------------------------------------------------------


def test_reconcile_page_runs_the_checks_only_on_post(office, user, operator):
    give_available(user, "100.00")
    payout_in(S.PROCESSING, user=UserFactory(), admin=operator)  # in-flight money is accounted (C6)

    page = office.get(RECONCILE)
    assert page.status_code == 200 and "Checked" not in page.content.decode()

    response = office.post(RECONCILE)

    assert response.status_code == 200
    assert f"Checked {Wallet.objects.count()} wallets, 0 mismatches." in response.content.decode()
    assert "MISMATCH" not in response.content.decode()


def test_reconcile_page_lists_a_corrupted_wallet_and_writes_nothing(office, user, corrupts_ledger):
    give_available(user, "100.00")
    Wallet.objects.filter(user=user).update(available_balance=D("105.00"))  # a balance without its entry
    before = written_state()

    content = office.post(RECONCILE).content.decode()

    mismatches = re.findall(r"<li>(MISMATCH [^<]*)</li>", content)
    assert mismatches, content
    assert all(f"user={user.pk}" in line for line in mismatches)
    assert any("check=C1 balance=available expected=100.00 actual=105.00" in line for line in mismatches)
    assert f"Checked {Wallet.objects.count()} wallets, {len(mismatches)} mismatches." in content
    assert written_state() == before  # read-only


# --- Who may enter (A-1) ---------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [CHANGELIST, DASHBOARD, RECONCILE, KEYS])
@pytest.mark.parametrize("who", ["user", "anonymous", "inactive admin"])
def test_non_staff_are_sent_to_the_login_page(url, who):
    client = Client()
    if who == "user":
        client.force_login(UserFactory())
    elif who == "inactive admin":
        client.force_login(AdminFactory(is_active=False))
    for response in (client.get(url), client.post(url)):
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_a_non_staff_user_cannot_run_an_action(user):
    give_available(user, "40.00")
    payout = request(user, "40.00")
    client = Client()
    client.force_login(user)
    response = client.post(CHANGELIST, {"action": "approve", "_selected_action": [str(payout.pk)]})
    assert response.status_code == 302 and _fresh(payout).status == S.REQUESTED


# --- Idempotency keys: view-only (admin.md §2) ----------------------------------------------------------


def test_idempotency_keys_are_listed_searchable_and_view_only(office, relaxed):
    alice = UserFactory(email="alice@example.com")
    give_available(alice, "40.00")
    with_key = request(alice, "20.00", key="alice-key-1")
    request(alice, "20.00", key="other-key")
    key = PayoutIdempotencyKey.objects.get(key="alice-key-1")

    listing = office.get(KEYS)

    assert listing.status_code == 200
    assert changelist_columns(listing) == ["user email", "key", "payout", "response status", "created at"]
    content = listing.content.decode()
    assert "alice@example.com" in content and "alice-key-1" in content
    assert f'href="/admin/payouts/payout/{with_key.pk}/change/"' in content
    assert changelist_pks(office.get(KEYS, {"q": "alice-key"})) == [key.pk]
    assert len(changelist_pks(office.get(KEYS, {"q": "alice@example"}))) == 2
    assert listing.context["has_add_permission"] is False
    detail = office.get(f"{KEYS}{key.pk}/change/")
    assert detail.status_code == 200 and detail.context["has_change_permission"] is False
    assert b'name="_save"' not in detail.content
    assert office.get(f"{KEYS}add/").status_code == 403
    assert office.post(f"{KEYS}{key.pk}/delete/", {"post": "yes"}).status_code == 403
    assert PayoutIdempotencyKey.objects.count() == 2
    action_form = listing.context["action_form"]
    assert not action_form or [n for n, _ in action_form.fields["action"].choices if n] == []
