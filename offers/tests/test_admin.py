"""Back-office for offers (admin.md §2 Offers, Merchants, §3), driven through Django's test client."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clicknback.audit.models import AuditAction, AuditLog
from clicknback.testing import (
    admin_form_errors,
    admin_messages,
    audit_rows,
    changelist_columns,
    changelist_pks,
    post_admin_action,
)
from merchants.tests.factories import MerchantFactory
from offers.models import Offer
from offers.tests.factories import OfferFactory, days_from_today

pytestmark = pytest.mark.django_db

OFFERS = "/admin/offers/offer/"
MERCHANTS = "/admin/merchants/merchant/"


# --- Changelist ------------------------------------------------------------------------------------


def test_changelist_shows_the_spec_columns(office):
    OfferFactory(merchant=MerchantFactory(name="Listed Shop"))

    response = office.get(OFFERS)

    assert response.status_code == 200
    columns = changelist_columns(response)
    for expected in ["merchant", "cashback type", "cashback value", "monthly cap per user", "start date", "end date",
                     "active", "live now", "created at"]:
        assert expected in columns, columns
    assert b"Listed Shop" in response.content


def test_live_now_column_follows_r50(office):
    live = OfferFactory()
    rows = {
        live.pk: True,
        OfferFactory(active=False).pk: False,
        OfferFactory(merchant=MerchantFactory(active=False)).pk: False,
        OfferFactory(start_date=days_from_today(-9), end_date=days_from_today(-1)).pk: False,
        OfferFactory(start_date=days_from_today(1), end_date=days_from_today(9)).pk: False,
        OfferFactory(start_date=days_from_today(0), end_date=days_from_today(0)).pk: True,
    }

    response = office.get(OFFERS)

    model_admin = response.context["cl"].model_admin
    shown = {o.pk: model_admin.live_now(o) for o in response.context["cl"].result_list}
    assert shown == rows


def test_changelist_costs_no_query_per_row(office):
    def queries_with(extra: int) -> int:
        OfferFactory.create_batch(extra)
        with CaptureQueriesContext(connection) as queries:
            assert office.get(OFFERS).status_code == 200
        return len(queries)

    assert queries_with(1) == queries_with(20)


def test_search_by_merchant_name_and_by_full_id(office):
    wanted = OfferFactory(merchant=MerchantFactory(name="Zebra Books"))
    other = OfferFactory(merchant=MerchantFactory(name="Yak Shoes"))

    assert set(changelist_pks(office.get(OFFERS, {"q": "zebra"}))) == {wanted.pk}
    assert set(changelist_pks(office.get(OFFERS, {"q": str(other.pk)}))) == {other.pk}


def test_filters_by_active_and_cashback_type(office):
    active_percent = OfferFactory()
    inactive_fixed = OfferFactory(active=False, cashback_type="fixed")

    assert set(changelist_pks(office.get(OFFERS, {"active__exact": "0"}))) == {inactive_fixed.pk}
    assert set(changelist_pks(office.get(OFFERS, {"cashback_type__exact": "percent"}))) == {active_percent.pk}


def test_offers_cannot_be_deleted_r8(office):
    offer = OfferFactory()

    response = office.post(f"{OFFERS}{offer.pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert Offer.objects.filter(pk=offer.pk).exists()
    actions = office.get(OFFERS).context["action_form"].fields["action"].choices
    assert "delete_selected" not in {name for name, _ in actions}


# --- Add form (A-8, R-40…) ----------------------------------------------------------------


def _add(office, merchant, **overrides):
    data = {
        "merchant": str(merchant.pk), "cashback_type": "percent", "cashback_value": "5.00",
        "start_date": days_from_today(0).isoformat(), "end_date": days_from_today(30).isoformat(),
        "monthly_cap": "50.00", "active": "on", "_save": "Save", **overrides,
    }
    return office.post(f"{OFFERS}add/", {k: v for k, v in data.items() if v is not None})


def test_add_form_has_exactly_the_spec_inputs(office):
    response = office.get(f"{OFFERS}add/")

    assert response.status_code == 200
    assert set(response.context["adminform"].form.fields) == {
        "merchant", "cashback_type", "cashback_value", "start_date", "end_date", "monthly_cap", "active"}


def test_add_offer_creates_it_through_the_service_audited_as_the_operator(office, operator):
    merchant = MerchantFactory()

    response = _add(office, merchant, cashback_type="fixed", cashback_value="2.5", monthly_cap="20")

    assert response.status_code == 302
    offer = Offer.objects.get()
    assert offer.merchant_id == merchant.pk
    assert (offer.cashback_type, offer.cashback_value, offer.monthly_cap_per_user) == (
        "fixed", Decimal("2.50"), Decimal("20.00"))
    assert (offer.start_date, offer.end_date, offer.active) == (days_from_today(0), days_from_today(30), True)
    (row,) = audit_rows("offer", offer)
    assert row.action == AuditAction.OFFER_CREATED
    assert (row.actor_type, row.actor_id, row.outcome) == ("admin", operator.pk, "success")
    assert row.details["monthly_cap_per_user"] == "20.00"


def test_add_offer_may_start_inactive_r47(office):
    assert _add(office, MerchantFactory(), active=None).status_code == 302  # an unticked checkbox

    assert Offer.objects.get().active is False


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"cashback_value": "20.01"}, "cashback_value"),  # R-41 percent
        ({"cashback_value": "0"}, "cashback_value"),
        ({"cashback_type": "fixed", "cashback_value": "10000.01"}, "cashback_value"),  # R-41 fixed
        ({"cashback_value": "5.001"}, "cashback_value"),  # never rounded
        ({"monthly_cap": "0"}, "monthly_cap"),
        ({"monthly_cap": "10000.01"}, "monthly_cap"),
        ({"start_date": days_from_today(-1).isoformat()}, "start_date"),
        ({"start_date": days_from_today(5).isoformat(), "end_date": days_from_today(4).isoformat()}, "end_date"),
        ({"cashback_type": "bonus"}, "cashback_type"),
    ],
)
def test_add_offer_with_bad_terms_is_refused_like_the_api(office, overrides, field):
    errors = admin_form_errors(_add(office, MerchantFactory(), **overrides))

    assert field in errors, errors
    assert not Offer.objects.exists()
    assert not AuditLog.objects.filter(resource_type="offer").exists()


def test_add_offer_reports_every_broken_term_at_once_r52(office):
    errors = admin_form_errors(_add(office, MerchantFactory(), cashback_value="25", monthly_cap="0",
                               start_date=days_from_today(-1).isoformat(), end_date="not a date"))

    assert {"cashback_value", "monthly_cap", "start_date", "end_date"} <= set(errors), errors


def test_add_offer_for_an_inactive_merchant_is_refused_r44(office):
    errors = admin_form_errors(_add(office, MerchantFactory(active=False)))

    assert "MERCHANT_NOT_ACTIVE" in " ".join(errors["merchant"])
    assert not Offer.objects.exists()


def test_add_second_active_offer_is_refused_naming_the_current_one_r45(office):
    current = OfferFactory()

    errors = admin_form_errors(_add(office, current.merchant))

    assert "ACTIVE_OFFER_ALREADY_EXISTS" in " ".join(errors.get("active", [])), errors
    assert str(current.pk) in " ".join(errors["active"])
    assert list(Offer.objects.values_list("pk", flat=True)) == [current.pk]


def test_add_inactive_offer_while_one_is_active_is_accepted_r46(office):
    current = OfferFactory()

    assert _add(office, current.merchant, active=None).status_code == 302

    assert Offer.objects.filter(merchant=current.merchant).count() == 2
    assert Offer.objects.get(merchant=current.merchant, active=True) == current


# --- Change page: read-only (A-2, A-4, R-48) --------------------------------------------------------


def test_change_page_shows_everything_read_only(office):
    offer = OfferFactory()

    response = office.get(f"{OFFERS}{offer.pk}/change/")

    assert response.status_code == 200
    assert set(response.context["adminform"].form.fields) == set()
    read_only = set(response.context["adminform"].readonly_fields)
    assert {"merchant", "cashback_type", "cashback_value", "start_date", "end_date", "monthly_cap_per_user",
            "active", "live_now"} <= read_only


def test_posting_the_change_page_changes_nothing_r48(office):
    offer = OfferFactory(cashback_value=Decimal("5.00"), monthly_cap_per_user=Decimal("100.00"))
    before = Offer.objects.filter(pk=offer.pk).values().get()

    office.post(f"{OFFERS}{offer.pk}/change/", {
        "merchant": str(MerchantFactory().pk), "cashback_type": "fixed", "cashback_value": "9.00",
        "start_date": days_from_today(3).isoformat(), "end_date": days_from_today(4).isoformat(),
        "monthly_cap_per_user": "1.00", "monthly_cap": "1.00", "active": "", "_save": "Save",
    })

    assert Offer.objects.filter(pk=offer.pk).values().get() == before
    assert not audit_rows("offer", offer)


# --- Actions (A-5, A-6, R-45, R-192) ------------------------------------------------------------------


def test_deactivate_and_activate_actions_audit_status_changes_as_the_operator(office, operator):
    offer = OfferFactory()

    off = post_admin_action(office, OFFERS, "deactivate", [offer])
    assert Offer.objects.get(pk=offer.pk).active is False
    assert ("success", "1 succeeded, 0 failed.") in admin_messages(off)

    on = post_admin_action(office, OFFERS, "activate", [offer])
    assert Offer.objects.get(pk=offer.pk).active is True
    assert ("success", "1 succeeded, 0 failed.") in admin_messages(on)

    (deactivated,) = audit_rows("offer", offer, AuditAction.OFFER_DEACTIVATED)
    (activated,) = audit_rows("offer", offer, AuditAction.OFFER_ACTIVATED)
    assert deactivated.details == {"from": "active", "to": "inactive"}
    assert activated.details == {"from": "inactive", "to": "active"}
    assert {(r.actor_type, r.actor_id, r.outcome) for r in (activated, deactivated)} == {
        ("admin", operator.pk, "success")}


def test_activating_two_offers_of_one_merchant_succeeds_once_and_audits_the_failure_r45_r192(office, operator):
    merchant = MerchantFactory()
    first, second = OfferFactory.create_batch(2, merchant=merchant, active=False)

    response = post_admin_action(office, OFFERS, "activate", [first, second])

    assert ("warning", "1 succeeded, 1 failed.") in admin_messages(response)
    errors = [text for level, text in admin_messages(response) if level == "error"]
    assert len(errors) == 1 and "ACTIVE_OFFER_ALREADY_EXISTS" in errors[0]
    winner = Offer.objects.get(merchant=merchant, active=True)
    loser = second if winner == first else first
    (success,) = audit_rows("offer", winner, AuditAction.OFFER_ACTIVATED)
    assert success.outcome == "success"
    (failure,) = audit_rows("offer", loser, AuditAction.OFFER_ACTIVATED)
    assert (failure.actor_type, failure.actor_id, failure.outcome) == ("admin", operator.pk, "failure")
    assert failure.details["error_code"] == "ACTIVE_OFFER_ALREADY_EXISTS"


def test_activate_action_with_another_offer_active_fails_and_keeps_the_current_one(office):
    current = OfferFactory()
    other = OfferFactory(merchant=current.merchant, active=False)
    unrelated = OfferFactory(active=False)

    response = post_admin_action(office, OFFERS, "activate", [other, unrelated])

    assert ("warning", "1 succeeded, 1 failed.") in admin_messages(response)
    assert set(Offer.objects.filter(active=True).values_list("pk", flat=True)) == {current.pk, unrelated.pk}
    (failure,) = audit_rows("offer", other)
    assert (failure.outcome, failure.details["error_code"]) == ("failure", "ACTIVE_OFFER_ALREADY_EXISTS")


def test_status_actions_on_offers_already_in_that_state_report_unchanged_without_audit(office):
    already_active, inactive = OfferFactory(), OfferFactory(active=False)

    response = post_admin_action(office, OFFERS, "activate", [already_active, inactive])

    assert ("success", "1 succeeded, 0 failed, 1 unchanged.") in admin_messages(response)
    assert not audit_rows("offer", already_active)
    assert len(audit_rows("offer", inactive, AuditAction.OFFER_ACTIVATED)) == 1


def test_activate_action_on_an_offer_of_an_inactive_merchant_succeeds_r49(office):
    offer = OfferFactory(active=False, merchant=MerchantFactory(active=False))

    response = post_admin_action(office, OFFERS, "activate", [offer])

    assert ("success", "1 succeeded, 0 failed.") in admin_messages(response)
    assert Offer.objects.get(pk=offer.pk).active is True


# --- Merchants: current active offer column and offers inline ----------------------------------------


def test_merchant_changelist_shows_the_current_active_offer_or_a_dash(office):
    offer = OfferFactory(merchant=MerchantFactory(name="A With Offer"))
    OfferFactory(merchant=MerchantFactory(name="B Only Inactive"), active=False)

    response = office.get(MERCHANTS)

    assert f'href="/admin/offers/offer/{offer.pk}/change/"'.encode() in response.content
    model_admin = response.context["cl"].model_admin
    shown = {m.name: model_admin.current_offer(m) for m in response.context["cl"].result_list}
    assert str(offer.pk)[:8] in shown["A With Offer"]
    assert shown["B Only Inactive"] == "—"


def test_merchant_changelist_current_offer_costs_no_query_per_row(office):
    def queries_with(extra: int) -> int:
        for _ in range(extra):
            merchant = OfferFactory().merchant
            OfferFactory(merchant=merchant, active=False)
        with CaptureQueriesContext(connection) as queries:
            assert office.get(MERCHANTS).status_code == 200
        return len(queries)

    assert queries_with(1) == queries_with(9)  # 1 vs 10 merchants, each with an active offer


def test_merchant_change_page_lists_its_offers_read_only(office):
    merchant = MerchantFactory()
    mine = [OfferFactory(merchant=merchant, cashback_value=Decimal("3.25")),
            OfferFactory(merchant=merchant, active=False, cashback_value=Decimal("4.75"))]
    OfferFactory(cashback_value=Decimal("9.99"))  # another merchant's

    response = office.get(f"{MERCHANTS}{merchant.pk}/change/")

    assert response.status_code == 200
    (inline,) = [f for f in response.context["inline_admin_formsets"] if f.formset.model is Offer]
    assert {form.instance.pk for form in inline.formset.forms} == {o.pk for o in mine}
    assert not inline.has_add_permission and not inline.has_change_permission  # read-only rows, no blank row
    assert not inline.formset.can_delete and b"offers-0-DELETE" not in response.content
    assert inline.formset.extra == 0 and len(inline.formset.forms) == 2
    assert b"3.25" in response.content and b"4.75" in response.content
    assert b"9.99" not in response.content
