"""Back-office for merchants (admin.md §2 Merchants, §3), driven through Django's test client."""

import re
import unicodedata
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import AdminFactory
from clicknback.audit.models import AuditAction, AuditLog
from clicknback.testing import admin_messages, audit_rows, changelist_columns, changelist_pks, post_admin_action
from merchants.models import Merchant
from merchants.tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db

MERCHANTS = "/admin/merchants/merchant/"
SECRET = re.compile(r"^whsec_[0-9a-f]{64}$")


# --- Changelist ----------------------------------------------------------------------------------


def test_changelist_shows_the_spec_columns_and_never_the_secret(office):
    merchant = MerchantFactory(name="Visible Shop")

    response = office.get(MERCHANTS)

    assert response.status_code == 200
    columns = changelist_columns(response)
    for expected in ["name", "default cashback percentage", "active", "current active offer", "created at"]:
        assert expected in columns, columns
    assert b"Visible Shop" in response.content
    assert merchant.webhook_secret.encode() not in response.content
    assert b"whsec_" not in response.content


def test_changelist_costs_no_query_per_row(office):
    def queries_with(extra: int) -> int:
        MerchantFactory.create_batch(extra)
        with CaptureQueriesContext(connection) as queries:
            assert office.get(MERCHANTS).status_code == 200
        return len(queries)

    assert queries_with(1) == queries_with(20)


def test_search_by_name_and_by_full_id(office):
    wanted = MerchantFactory(name="Zebra Books")
    other = MerchantFactory(name="Yak Shoes")

    by_name = office.get(MERCHANTS, {"q": "zebra"})
    by_id = office.get(MERCHANTS, {"q": str(other.pk)})

    assert set(changelist_pks(by_name)) == {wanted.pk}
    assert set(changelist_pks(by_id)) == {other.pk}


def test_filter_by_active(office):
    active, inactive = MerchantFactory(), MerchantFactory(active=False)

    only_inactive = office.get(MERCHANTS, {"active__exact": "0"})
    only_active = office.get(MERCHANTS, {"active__exact": "1"})

    assert set(changelist_pks(only_inactive)) == {inactive.pk}
    assert set(changelist_pks(only_active)) == {active.pk}


# --- Add form (A-8, R-30…R-34) --------------------------------------------------------------------


def _add(office, name, percentage="5.00", active=True):
    data = {"name": name, "default_cashback_percentage": percentage, "_save": "Save"}
    if active:
        data["active"] = "on"
    return office.post(f"{MERCHANTS}add/", data)


def test_add_merchant_creates_it_through_the_service_audited_as_the_operator(office, operator):
    decomposed = "  Cafe\u0301 Central  "  # "é" as e + combining acute, with surrounding spaces

    response = _add(office, decomposed, percentage="7.5")

    assert response.status_code == 302
    merchant = Merchant.objects.get()
    assert merchant.name == unicodedata.normalize("NFC", "Café Central")  # NFC, trimmed
    assert merchant.default_cashback_percentage == Decimal("7.50")
    assert merchant.active is True
    assert SECRET.match(merchant.webhook_secret)
    (row,) = audit_rows("merchant", merchant, AuditAction.MERCHANT_CREATED)
    assert (row.actor_type, row.actor_id, row.outcome) == ("admin", operator.pk, "success")
    assert row.details == {"name": "Café Central", "default_cashback_percentage": "7.50", "active": True}
    assert merchant.webhook_secret not in str(row.details)


def test_add_merchant_may_start_inactive(office):
    # an add form may set the initial `active`.
    assert _add(office, "Dormant Ltd", active=False).status_code == 302

    assert Merchant.objects.get(name="Dormant Ltd").active is False


def test_add_merchant_with_a_name_taken_in_another_case_is_refused(office):
    MerchantFactory(name="Café Central")

    response = _add(office, "CAFÉ CENTRAL")

    assert response.status_code == 200
    assert "already exists" in " ".join(response.context["adminform"].form.errors["name"])
    assert Merchant.objects.count() == 1
    assert not AuditLog.objects.filter(action=AuditAction.MERCHANT_CREATED, details__name="CAFÉ CENTRAL").exists()


@pytest.mark.parametrize("percentage", ["20.01", "25", "-1"])
def test_add_merchant_with_percentage_out_of_range_is_refused(office, percentage):
    # 0.00 ≤ p ≤ MAX_CASHBACK_PERCENTAGE (20.00).
    response = _add(office, "Too Generous", percentage=percentage)

    assert response.status_code == 200
    assert "default_cashback_percentage" in response.context["adminform"].form.errors
    assert not Merchant.objects.exists()


def test_add_merchant_at_the_percentage_cap_is_accepted(office):
    assert _add(office, "Right At Cap", percentage="20.00").status_code == 302

    assert Merchant.objects.get().default_cashback_percentage == Decimal("20.00")


def test_add_merchant_with_a_blank_name_is_refused(office):
    response = _add(office, "    ")

    assert response.status_code == 200
    assert "name" in response.context["adminform"].form.errors
    assert not Merchant.objects.exists()


# --- Change form ---------------------------------------------------------------------------------


def _change(office, merchant, **fields):
    data = {
        "name": merchant.name, "default_cashback_percentage": str(merchant.default_cashback_percentage),
        "_save": "Save", **_inline_management_data(office, merchant), **fields,
    }
    return office.post(f"{MERCHANTS}{merchant.pk}/change/", data)


def _inline_management_data(office, merchant) -> dict:
    """What the page's inline formsets send back untouched (the offers inline is read-only)."""
    page = office.get(f"{MERCHANTS}{merchant.pk}/change/")
    data = {}
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name, field in management.fields.items():
            data[management.add_prefix(name)] = management.initial.get(name, field.initial)
    return data


def test_change_form_renders_with_active_and_secret_read_only(office):
    merchant = MerchantFactory()

    response = office.get(f"{MERCHANTS}{merchant.pk}/change/")

    assert response.status_code == 200
    assert set(response.context["adminform"].form.fields) == {"name", "default_cashback_percentage"}
    read_only = set(response.context["adminform"].readonly_fields)
    assert {"id", "active", "webhook_secret_display", "created_at"} <= read_only


def test_change_form_edits_name_and_percentage_audited_with_old_and_new(office, operator):
    merchant = MerchantFactory(name="Old Name", default_cashback_percentage=Decimal("5.00"))

    response = _change(office, merchant, name="  New Name ", default_cashback_percentage="6.5")

    assert response.status_code == 302
    merchant.refresh_from_db()
    assert (merchant.name, merchant.default_cashback_percentage) == ("New Name", Decimal("6.50"))
    (row,) = audit_rows("merchant", merchant, AuditAction.MERCHANT_UPDATED)
    assert (row.actor_type, row.actor_id) == ("admin", operator.pk)
    assert row.details == {
        "changed": ["default_cashback_percentage", "name"],
        "name": {"from": "Old Name", "to": "New Name"},
        "default_cashback_percentage": {"from": "5.00", "to": "6.50"},
    }


def test_change_form_ignores_posted_active(office):
    # `active` changes only through the actions.
    merchant = MerchantFactory(active=True)

    response = _change(office, merchant, active="")  # an unticked checkbox
    response_off = _change(office, merchant, name="Renamed", active="off")

    assert response.status_code == 302 and response_off.status_code == 302
    merchant.refresh_from_db()
    assert merchant.active is True
    assert not audit_rows("merchant", merchant, AuditAction.MERCHANT_DEACTIVATED)


def test_change_form_refuses_a_name_of_another_merchant_in_any_case(office):
    MerchantFactory(name="Taken Name")
    merchant = MerchantFactory(name="Mine")

    response = _change(office, merchant, name="taken name")

    assert response.status_code == 200
    assert "name" in response.context["adminform"].form.errors
    merchant.refresh_from_db()
    assert merchant.name == "Mine"
    assert not audit_rows("merchant", merchant, AuditAction.MERCHANT_UPDATED)


def test_change_form_refuses_a_percentage_above_the_cap(office):
    merchant = MerchantFactory(default_cashback_percentage=Decimal("5.00"))

    response = _change(office, merchant, default_cashback_percentage="20.50")

    assert response.status_code == 200
    assert "default_cashback_percentage" in response.context["adminform"].form.errors
    merchant.refresh_from_db()
    assert merchant.default_cashback_percentage == Decimal("5.00")


def test_change_form_without_a_change_writes_no_audit_row(office):
    merchant = MerchantFactory()

    assert _change(office, merchant).status_code == 302

    assert not audit_rows("merchant", merchant, AuditAction.MERCHANT_UPDATED)


# --- Actions (A-5, A-6, R-33, R-153) ----------------------------------------------------------------


def test_deactivate_and_activate_actions_audit_status_changes(office, operator):
    merchant = MerchantFactory(active=True)

    off = post_admin_action(office, MERCHANTS, "deactivate", [merchant])
    merchant.refresh_from_db()
    assert merchant.active is False
    assert ("success", "1 succeeded, 0 failed.") in admin_messages(off)

    on = post_admin_action(office, MERCHANTS, "activate", [merchant])
    merchant.refresh_from_db()
    assert merchant.active is True
    assert ("success", "1 succeeded, 0 failed.") in admin_messages(on)

    (deactivated,) = audit_rows("merchant", merchant, AuditAction.MERCHANT_DEACTIVATED)
    (activated,) = audit_rows("merchant", merchant, AuditAction.MERCHANT_ACTIVATED)
    assert deactivated.details == {"from": "active", "to": "inactive"}
    assert activated.details == {"from": "inactive", "to": "active"}
    assert {(r.actor_type, r.actor_id) for r in (activated, deactivated)} == {("admin", operator.pk)}


def test_status_actions_on_merchants_already_in_that_state_report_unchanged_without_audit(office):
    # same status again = no change, no audit row.
    already_active, inactive = MerchantFactory(active=True), MerchantFactory(active=False)

    response = post_admin_action(office, MERCHANTS, "activate", [already_active, inactive])

    assert ("success", "1 succeeded, 0 failed, 1 unchanged.") in admin_messages(response)
    assert not audit_rows("merchant", already_active)
    assert len(audit_rows("merchant", inactive, AuditAction.MERCHANT_ACTIVATED)) == 1

    again = post_admin_action(office, MERCHANTS, "activate", [already_active])
    assert ("success", "0 succeeded, 0 failed, 1 unchanged.") in admin_messages(again)
    assert not audit_rows("merchant", already_active)


def test_rotate_webhook_secret_keeps_the_old_one_for_the_grace_period_and_audits_without_secrets(office, operator):
    from django.utils import timezone

    merchant = MerchantFactory()
    old_secret = merchant.webhook_secret

    response = post_admin_action(office, MERCHANTS, "rotate_webhook_secret", [merchant])

    assert ("success", "1 succeeded, 0 failed.") in admin_messages(response)
    merchant.refresh_from_db()
    assert SECRET.match(merchant.webhook_secret) and merchant.webhook_secret != old_secret
    assert merchant.previous_webhook_secret == old_secret
    grace = merchant.previous_webhook_secret_expires_at - timezone.now()
    assert 23.9 * 3600 < grace.total_seconds() <= 24 * 3600
    (row,) = audit_rows("merchant", merchant, AuditAction.MERCHANT_WEBHOOK_SECRET_ROTATED)
    assert (row.actor_type, row.actor_id, row.outcome) == ("admin", operator.pk, "success")
    assert set(row.details) == {"previous_secret_valid_until"}
    assert merchant.webhook_secret not in str(row.details) and old_secret not in str(row.details)
    # The list the operator lands on never shows a secret.
    assert merchant.webhook_secret.encode() not in response.content


def test_rotated_secret_is_shown_in_full_once_then_masked(office):
    # R-214 / admin.md: the new secret is visible on the detail page right after rotation only.
    merchant = MerchantFactory()
    post_admin_action(office, MERCHANTS, "rotate_webhook_secret", [merchant])
    merchant.refresh_from_db()
    detail = f"{MERCHANTS}{merchant.pk}/change/"

    first = office.get(detail)
    second = office.get(detail)

    assert merchant.webhook_secret.encode() in first.content
    assert merchant.webhook_secret.encode() not in second.content
    assert f"whsec_…{merchant.webhook_secret[-4:]}".encode() in second.content


def test_secret_is_masked_on_the_detail_page_without_a_rotation(office):
    merchant = MerchantFactory()

    response = office.get(f"{MERCHANTS}{merchant.pk}/change/")

    assert merchant.webhook_secret.encode() not in response.content
    assert f"whsec_…{merchant.webhook_secret[-4:]}".encode() in response.content


def test_rotated_secret_is_revealed_only_to_the_operator_who_rotated_it(office):
    merchant = MerchantFactory()
    post_admin_action(office, MERCHANTS, "rotate_webhook_secret", [merchant])
    merchant.refresh_from_db()
    colleague = Client()
    colleague.force_login(AdminFactory())

    response = colleague.get(f"{MERCHANTS}{merchant.pk}/change/")

    assert merchant.webhook_secret.encode() not in response.content


def test_rotating_several_merchants_reveals_each_new_secret_once(office):
    first, second = MerchantFactory(), MerchantFactory()

    response = post_admin_action(office, MERCHANTS, "rotate_webhook_secret", [first, second])

    assert ("success", "2 succeeded, 0 failed.") in admin_messages(response)
    for merchant in (first, second):
        merchant.refresh_from_db()
        assert merchant.webhook_secret.encode() in office.get(f"{MERCHANTS}{merchant.pk}/change/").content
        assert merchant.webhook_secret.encode() not in office.get(f"{MERCHANTS}{merchant.pk}/change/").content


def test_current_active_offer_column_links_to_the_offer_or_shows_a_dash(office):
    import datetime as dt

    from clicknback.audit.services import Actor
    from offers import services as offer_services

    with_offer, without_offer = MerchantFactory(name="A With Offer"), MerchantFactory(name="B Without Offer")
    today = dt.date.today()
    offer = offer_services.create_offer(
        merchant_id=with_offer.pk, cashback_type="percent", cashback_value=Decimal("5.00"), start_date=today,
        end_date=today + dt.timedelta(days=30), monthly_cap=Decimal("50.00"), actor=Actor.system(),
    )

    response = office.get(MERCHANTS)

    assert f'href="/admin/offers/offer/{offer.pk}/change/"'.encode() in response.content
    model_admin = response.context["cl"].model_admin
    rows = {m.pk: m for m in response.context["cl"].result_list}
    assert model_admin.current_offer(rows[without_offer.pk]) == "—"


def test_a9_lists_show_fifty_rows_per_page(office):
    MerchantFactory.create_batch(51)

    first = office.get(MERCHANTS)
    second = office.get(MERCHANTS, {"p": 2})

    assert len(first.context["cl"].result_list) == 50
    assert len(second.context["cl"].result_list) == 1
