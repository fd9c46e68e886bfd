"""Offers over HTTP (api.md §6): APIClient + the real URLconf, asserting status, body and DB."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import UserFactory
from clicknback import testing
from clicknback.audit.models import AuditAction, AuditLog
from clicknback.testing import error_of
from conftest import bearer_client
from merchants.tests.factories import MerchantFactory
from offers.models import Offer
from offers.tests.factories import OfferFactory, days_from_today

pytestmark = pytest.mark.django_db

OFFERS = "/api/v1/offers"
ACTIVE = f"{OFFERS}/active"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
OFFER_KEYS = {"id", "merchant_id", "cashback_type", "cashback_value", "start_date", "end_date",
              "monthly_cap_per_user", "status"}
ACTIVE_OFFER_KEYS = {"id", "merchant_name", "cashback_type", "cashback_value", "monthly_cap", "start_date", "end_date"}
DETAILS_KEYS = ACTIVE_OFFER_KEYS | {"status"}


def iso(days: int) -> str:
    return days_from_today(days).isoformat()


def create_body(merchant=None, **overrides):
    body = {
        "merchant_id": str(merchant.pk) if merchant is not None else UNKNOWN_ID,
        "cashback_type": "percent", "cashback_value": "5.00",
        "start_date": iso(0), "end_date": iso(30), "monthly_cap": "50.00",
    }
    return {**body, **overrides}


def violation_fields(response):
    """The violated fields, sorted: these tests compare them as a set, in a stable order."""
    return sorted(testing.violation_fields(response))


def offer_url(offer_id, suffix=""):
    return f"{OFFERS}/{offer_id}{suffix}"


def ids(response):
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["data"]]


def no_offer_written():
    return not Offer.objects.exists() and not AuditLog.objects.filter(resource_type="offer").exists()


# --- POST /api/v1/offers ---------------------------------------------------------------------------


def test_create_offer_answers_201_with_exact_offer_shape_and_audits_offer_created(admin_client):
    merchant = MerchantFactory()

    response = admin_client.post(OFFERS, create_body(merchant, cashback_value="7.5", monthly_cap=100), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == OFFER_KEYS  # request says monthly_cap, response monthly_cap_per_user (v1 compat)
    assert body == {
        "id": body["id"], "merchant_id": str(merchant.pk), "cashback_type": "percent",
        "cashback_value": "7.50", "start_date": iso(0), "end_date": iso(30),
        "monthly_cap_per_user": "100.00", "status": "active",
    }
    assert body["id"] == str(uuid.UUID(body["id"]))  # lowercase hyphenated
    offer = Offer.objects.get(pk=body["id"])
    assert (offer.cashback_value, offer.monthly_cap_per_user) == (Decimal("7.50"), Decimal("100.00"))
    assert offer.active is True
    audit = AuditLog.objects.get(resource_type="offer", resource_id=body["id"])
    assert audit.action == AuditAction.OFFER_CREATED
    assert (audit.actor_type, audit.actor_id, audit.outcome) == ("admin", admin_client.account.id, "success")


def test_create_offer_json_numbers_are_parsed_as_decimal_not_float(admin_client):
    merchant = MerchantFactory()
    raw = (f'{{"merchant_id": "{merchant.pk}", "cashback_type": "fixed", "cashback_value": 0.1, '
           f'"start_date": "{iso(0)}", "end_date": "{iso(1)}", "monthly_cap": 9999.99}}')

    response = admin_client.post(OFFERS, raw, content_type="application/json")

    assert response.status_code == 201, response.content
    assert (response.json()["cashback_value"], response.json()["monthly_cap_per_user"]) == ("0.10", "9999.99")


def test_create_offer_with_active_false_is_inactive_r47(admin_client):
    response = admin_client.post(OFFERS, create_body(MerchantFactory(), active=False), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["status"] == "inactive"
    assert Offer.objects.get(pk=response.json()["id"]).active is False


def test_create_offer_trailing_slash_is_the_same_endpoint(admin_client):
    response = admin_client.post(OFFERS + "/", create_body(MerchantFactory()), format="json")

    assert response.status_code == 201


def test_create_offer_one_day_offer_starting_today_is_valid_r43(admin_client):
    response = admin_client.post(OFFERS, create_body(MerchantFactory(), end_date=iso(0)), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["start_date"] == response.json()["end_date"] == iso(0)


@pytest.mark.parametrize(
    ("overrides", "shown"),
    [
        ({"cashback_value": "20.00"}, "20.00"),  # R-41 percent bound inclusive
        ({"cashback_value": "0.01"}, "0.01"),
        ({"cashback_type": "fixed", "cashback_value": "10000.00"}, "10000.00"),  # R-41 fixed bound inclusive
        ({"cashback_type": "fixed", "cashback_value": "20.01"}, "20.01"),  # the percent bound is not the fixed one
        ({"cashback_value": 3}, "3.00"),
    ],
)
def test_create_offer_values_at_the_bounds_are_accepted_r41(admin_client, overrides, shown):
    response = admin_client.post(OFFERS, create_body(MerchantFactory(), **overrides), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["cashback_value"] == shown


def test_create_offer_cap_at_the_bound_is_accepted_r42(admin_client):
    response = admin_client.post(OFFERS, create_body(MerchantFactory(), monthly_cap="10000.00"), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["monthly_cap_per_user"] == "10000.00"


def test_create_offer_accepts_an_uppercase_merchant_uuid_r212(admin_client):
    merchant = MerchantFactory()

    response = admin_client.post(OFFERS, create_body(merchant, merchant_id=str(merchant.pk).upper()), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["merchant_id"] == str(merchant.pk)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"cashback_value": "0"}, "cashback_value"),  # strictly positive
        ({"cashback_value": 0}, "cashback_value"),
        ({"cashback_value": "-1.00"}, "cashback_value"),
        ({"cashback_value": "20.01"}, "cashback_value"),  # R-41 percent max
        ({"cashback_value": "5.001"}, "cashback_value"),  # 3 decimals rejected, never rounded
        ({"cashback_value": Decimal("5.125")}, "cashback_value"),
        ({"cashback_value": "1" + "0" * 40}, "cashback_value"),  # huge: 400, not 500
        ({"cashback_value": 10**40}, "cashback_value"),
        ({"cashback_type": "fixed", "cashback_value": "123456789012.00"}, "cashback_value"),
        ({"cashback_value": "abc"}, "cashback_value"),
        ({"cashback_value": "1e1"}, "cashback_value"),  # exponent notation
        ({"cashback_value": "NaN"}, "cashback_value"),
        ({"cashback_value": True}, "cashback_value"),  # a boolean is not a number
        ({"cashback_value": None}, "cashback_value"),  # null is not "absent"
        ({"cashback_value": ["5.00"]}, "cashback_value"),
        ({"cashback_type": "fixed", "cashback_value": "10000.01"}, "cashback_value"),  # R-41 fixed max
        ({"cashback_type": "fixed", "cashback_value": "0.00"}, "cashback_value"),
        ({"monthly_cap": "0"}, "monthly_cap"),
        ({"monthly_cap": "0.00"}, "monthly_cap"),
        ({"monthly_cap": "10000.01"}, "monthly_cap"),
        ({"monthly_cap": "-5"}, "monthly_cap"),
        ({"monthly_cap": "1.234"}, "monthly_cap"),
        ({"monthly_cap": "ten"}, "monthly_cap"),
        ({"monthly_cap": "1" + "0" * 40}, "monthly_cap"),
        ({"monthly_cap": False}, "monthly_cap"),
        ({"start_date": iso(-1), "end_date": iso(5)}, "start_date"),  # yesterday (UTC)
        ({"start_date": iso(-400), "end_date": iso(-300)}, "start_date"),  # a window already over
        ({"start_date": iso(5), "end_date": iso(4)}, "end_date"),  # end before start
        ({"start_date": "2026-1-5"}, "start_date"),  # not YYYY-MM-DD
        ({"end_date": "2027-02-30"}, "end_date"),  # no such day
        ({"start_date": 20270105}, "start_date"),  # a number is not a date
        ({"start_date": f"{iso(1)}T00:00:00Z"}, "start_date"),  # a datetime is not a date
        ({"end_date": None}, "end_date"),
        ({"cashback_type": "bonus"}, "cashback_type"),
        ({"cashback_type": "PERCENT"}, "cashback_type"),
        ({"cashback_type": 1}, "cashback_type"),
        ({"cashback_type": None}, "cashback_type"),
        ({"merchant_id": "not-a-uuid"}, "merchant_id"),
        ({"merchant_id": uuid.UUID(UNKNOWN_ID).hex}, "merchant_id"),  # 32 hex digits, no hyphens
        ({"merchant_id": "{" + UNKNOWN_ID + "}"}, "merchant_id"),
        ({"merchant_id": 12345}, "merchant_id"),
        ({"merchant_id": None}, "merchant_id"),
        ({"active": "true"}, "active"),  # no coercion
        ({"active": 1}, "active"),
        ({"active": None}, "active"),
    ],
    ids=lambda value: None if isinstance(value, dict) else value,
)
def test_create_offer_bad_field_is_400_validation_error_naming_it_and_writes_nothing(admin_client, overrides, field):
    response = admin_client.post(OFFERS, create_body(MerchantFactory(), **overrides), format="json")

    assert violation_fields(response) == [field]
    assert error_of(response)["message"]
    assert no_offer_written()  # refused API calls write no audit row


def test_create_offer_iso_week_date_is_not_yyyy_mm_dd_and_is_400(admin_client):
    year = days_from_today(400).year
    response = admin_client.post(OFFERS, create_body(MerchantFactory(), start_date=f"{year}-W10-1",
                                                     end_date=f"{year}-12-31"), format="json")

    assert violation_fields(response) == ["start_date"]


def test_list_offers_iso_week_date_filter_is_400(user_client):
    assert violation_fields(user_client.get(OFFERS, {"date_from": "2026-W10-1"})) == ["date_from"]


@pytest.mark.parametrize("missing", ["merchant_id", "cashback_type", "cashback_value", "start_date", "end_date",
                                     "monthly_cap"])
def test_create_offer_missing_required_field_is_400_naming_it(admin_client, missing):
    body = create_body(MerchantFactory())
    del body[missing]

    response = admin_client.post(OFFERS, body, format="json")

    assert violation_fields(response) == [missing]
    assert no_offer_written()


def test_create_offer_term_violations_are_reported_together_r52(admin_client):
    body = create_body(MerchantFactory(), cashback_value="20.01", monthly_cap="10000.01",
                       start_date=iso(-1), end_date=iso(-2))

    response = admin_client.post(OFFERS, body, format="json")

    assert violation_fields(response) == ["cashback_value", "end_date", "monthly_cap", "start_date"]


def test_create_offer_type_errors_and_term_violations_are_reported_together_r52(admin_client):
    # api.md §0.4: a malformed field does not hide the range problems of the others.
    body = create_body(merchant_id="nope", cashback_value="0", monthly_cap="0", start_date=iso(-1),
                       end_date=iso(-2), active="yes")

    response = admin_client.post(OFFERS, body, format="json")

    assert violation_fields(response) == ["active", "cashback_value", "end_date", "merchant_id", "monthly_cap",
                                          "start_date"]
    assert no_offer_written()


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        # unknown type: the value bound cannot be judged, the other terms still are
        ({"cashback_type": "bonus", "monthly_cap": "0", "start_date": iso(-1)},
         ["cashback_type", "monthly_cap", "start_date"]),
        # malformed start: end_date cannot be compared with it, the value and cap still are
        ({"start_date": "2026-1-5", "cashback_value": "20.01", "monthly_cap": "10000.01"},
         ["cashback_value", "monthly_cap", "start_date"]),
        # malformed value: the window is still checked
        ({"cashback_value": "abc", "start_date": iso(3), "end_date": iso(2)}, ["cashback_value", "end_date"]),
    ],
)
def test_create_offer_a_malformed_field_does_not_hide_other_violations_r52(admin_client, overrides, fields):
    response = admin_client.post(OFFERS, create_body(MerchantFactory(), **overrides), format="json")

    assert violation_fields(response) == fields


@pytest.mark.parametrize("raw", ["[]", "null", '"x"', "{not json"])
def test_create_offer_body_that_is_not_a_json_object_is_400_on_field_body_r207(admin_client, raw):
    response = admin_client.post(OFFERS, raw, content_type="application/json")

    assert violation_fields(response) == ["body"]


def test_create_offer_for_unknown_merchant_is_404_naming_the_merchant_r44(admin_client):
    response = admin_client.post(OFFERS, create_body(merchant_id=UNKNOWN_ID), format="json")

    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "NOT_FOUND"
    assert error["details"] == {"resource_type": "merchant", "resource_id": UNKNOWN_ID}
    assert no_offer_written()


def test_create_offer_for_inactive_merchant_is_422_merchant_not_active_r44(admin_client):
    merchant = MerchantFactory(active=False)

    response = admin_client.post(OFFERS, create_body(merchant), format="json")

    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "MERCHANT_NOT_ACTIVE"
    assert set(error["details"]) == {"merchant_id", "action"}
    assert error["details"]["merchant_id"] == str(merchant.pk)
    assert error["details"]["action"]
    assert no_offer_written()


def test_create_second_active_offer_is_409_naming_the_current_one_r45(admin_client):
    current = OfferFactory()

    response = admin_client.post(OFFERS, create_body(current.merchant, start_date=iso(60), end_date=iso(90)),
                                 format="json")

    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "ACTIVE_OFFER_ALREADY_EXISTS"
    assert set(error["details"]) == {"merchant_id", "active_offer_id", "action"}
    assert error["details"]["merchant_id"] == str(current.merchant_id)
    assert error["details"]["active_offer_id"] == str(current.pk)
    assert error["details"]["action"]
    assert list(Offer.objects.values_list("pk", flat=True)) == [current.pk]
    assert not AuditLog.objects.filter(resource_type="offer").exists()


def test_create_inactive_offer_while_one_is_active_is_201_r46(admin_client):
    current = OfferFactory()

    response = admin_client.post(OFFERS, create_body(current.merchant, active=False), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["status"] == "inactive"
    assert Offer.objects.filter(merchant=current.merchant).count() == 2
    assert Offer.objects.get(merchant=current.merchant, active=True) == current


# 400 → 404 → 422 → 409, each one hiding the later ones.


def test_create_offer_field_error_beats_unknown_merchant_r52(admin_client):
    response = admin_client.post(OFFERS, create_body(merchant_id=UNKNOWN_ID, monthly_cap="0"), format="json")

    assert violation_fields(response) == ["monthly_cap"]


def test_create_offer_field_error_beats_inactive_merchant_r52(admin_client):
    body = create_body(MerchantFactory(active=False), start_date=iso(-1))

    assert violation_fields(admin_client.post(OFFERS, body, format="json")) == ["start_date"]


def test_create_offer_field_error_beats_active_offer_conflict_r52(admin_client):
    current = OfferFactory()

    response = admin_client.post(OFFERS, create_body(current.merchant, cashback_value="25"), format="json")

    assert violation_fields(response) == ["cashback_value"]


def test_create_offer_inactive_merchant_beats_active_offer_conflict_r52(admin_client):
    current = OfferFactory(merchant=MerchantFactory(active=False))

    response = admin_client.post(OFFERS, create_body(current.merchant), format="json")

    assert response.status_code == 422
    assert error_of(response)["code"] == "MERCHANT_NOT_ACTIVE"


def test_create_offer_anonymous_is_401_invalid_token_even_with_a_bad_body(api_client):
    response = api_client.post(OFFERS, {"cashback_value": "abc"}, format="json")

    assert response.status_code == 401
    assert error_of(response)["code"] == "INVALID_TOKEN"
    assert response["WWW-Authenticate"] == "Bearer"
    assert no_offer_written()


def test_create_offer_by_plain_user_is_403_forbidden_before_validation(user_client):
    merchant = MerchantFactory()

    for body in (create_body(merchant), {}):
        response = user_client.post(OFFERS, body, format="json")
        assert response.status_code == 403
        error = error_of(response)
        assert error["code"] == "FORBIDDEN"
        assert error["details"] == {"required_role": "admin", "current_role": "user"}
    assert no_offer_written()


# --- GET /api/v1/offers ---------------------------------------------------------------------------


def test_list_offers_page_of_offer_shape_for_any_user(user_client):
    offer = OfferFactory(cashback_type="fixed", cashback_value=Decimal("2.5"), monthly_cap_per_user=Decimal("30"))

    response = user_client.get(OFFERS)

    assert response.status_code == 200
    assert response.json() == {
        "data": [{
            "id": str(offer.pk), "merchant_id": str(offer.merchant_id), "cashback_type": "fixed",
            "cashback_value": "2.50", "start_date": offer.start_date.isoformat(),
            "end_date": offer.end_date.isoformat(), "monthly_cap_per_user": "30.00", "status": "active",
        }],
        "pagination": {"offset": 0, "limit": 10, "total": 1},
    }


def test_list_offers_sorts_newest_first_then_by_id(admin_client):
    offers = OfferFactory.create_batch(5)
    base = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    # two ties on created_at: the id breaks them, ascending (api.md §0.5)
    stamps = [base, base + dt.timedelta(hours=2), base + dt.timedelta(hours=2), base + dt.timedelta(hours=1),
              base + dt.timedelta(hours=1)]
    for offer, stamp in zip(offers, stamps, strict=True):
        Offer.objects.filter(pk=offer.pk).update(created_at=stamp)

    by_stamp = sorted(offers, key=lambda o: str(o.pk))
    by_stamp.sort(key=lambda o: stamps[offers.index(o)], reverse=True)
    assert ids(admin_client.get(OFFERS)) == [str(o.pk) for o in by_stamp]


def test_list_offers_pagination_selects_the_page_and_counts_all(admin_client):
    OfferFactory.create_batch(12)
    everything = ids(admin_client.get(OFFERS, {"limit": 100}))

    page = admin_client.get(OFFERS + "/", {"offset": 10, "limit": 5}).json()
    past_end = admin_client.get(OFFERS, {"offset": 50}).json()

    assert [o["id"] for o in page["data"]] == everything[10:]
    assert page["pagination"] == {"offset": 10, "limit": 5, "total": 12}
    assert past_end == {"data": [], "pagination": {"offset": 50, "limit": 10, "total": 12}}


@pytest.mark.parametrize(("status", "expected"), [("active", "on"), ("inactive", "off")])
def test_list_offers_status_filter(admin_client, status, expected):
    offers = {"on": OfferFactory(active=True), "off": OfferFactory(active=False)}

    response = admin_client.get(OFFERS, {"status": status})

    assert ids(response) == [str(offers[expected].pk)]
    assert response.json()["pagination"]["total"] == 1


def test_list_offers_merchant_filter(admin_client):
    wanted = OfferFactory()
    older = OfferFactory(merchant=wanted.merchant, active=False)
    OfferFactory()

    response = admin_client.get(OFFERS, {"merchant_id": str(wanted.merchant_id)})

    assert set(ids(response)) == {str(wanted.pk), str(older.pk)}


@pytest.fixture
def three_windows():
    """past: -10…-5, current: 0…+10, future: +20…+30."""
    return {
        "past": OfferFactory(start_date=days_from_today(-10), end_date=days_from_today(-5)),
        "current": OfferFactory(start_date=days_from_today(0), end_date=days_from_today(10)),
        "future": OfferFactory(start_date=days_from_today(20), end_date=days_from_today(30)),
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"date_from": -5}, {"past", "current", "future"}),  # end_date ≥ date_from, inclusive
        ({"date_from": -4}, {"current", "future"}),
        ({"date_from": 31}, set()),
        ({"date_to": -10}, {"past"}),  # start_date ≤ date_to, inclusive
        ({"date_to": -11}, set()),
        ({"date_to": 19}, {"past", "current"}),
        ({"date_from": 1, "date_to": 19}, {"current"}),
        ({"date_from": 20, "date_to": 20}, {"future"}),  # equal bounds are a valid range
    ],
)
def test_list_offers_date_filters_select_overlapping_windows(admin_client, three_windows, params, expected):
    query = {name: iso(days) for name, days in params.items()}

    response = admin_client.get(OFFERS, query)

    assert set(ids(response)) == {str(three_windows[name].pk) for name in expected}


def test_list_offers_inverted_date_range_is_400_on_date_from_r205(user_client):
    response = user_client.get(OFFERS, {"date_from": iso(5), "date_to": iso(4)})

    assert violation_fields(response) == ["date_from"]


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"status": "ACTIVE"}, ["status"]),
        ({"status": "all"}, ["status"]),
        ({"status": ""}, ["status"]),
        ({"merchant_id": "abc"}, ["merchant_id"]),
        ({"merchant_id": uuid.UUID(UNKNOWN_ID).hex}, ["merchant_id"]),
        ({"date_from": "2026-1-5"}, ["date_from"]),
        ({"date_to": "yesterday"}, ["date_to"]),
        ({"limit": "0"}, ["limit"]),
        ({"limit": "101"}, ["limit"]),
        ({"offset": "-1"}, ["offset"]),
        ({"status": "x", "limit": "x", "date_from": "x"}, ["date_from", "limit", "status"]),  # all at once
    ],
)
def test_list_offers_bad_query_is_400_naming_each_parameter(user_client, params, fields):
    assert violation_fields(user_client.get(OFFERS, params)) == fields


def test_list_offers_hides_offers_of_inactive_merchants_from_non_admins_r33(user_client, admin_client):
    visible = OfferFactory()
    hidden_active = OfferFactory(merchant=MerchantFactory(active=False))
    hidden_inactive = OfferFactory(merchant=hidden_active.merchant, active=False)

    as_user = user_client.get(OFFERS)
    as_user_filtered = user_client.get(OFFERS, {"merchant_id": str(hidden_active.merchant_id)})
    as_admin = admin_client.get(OFFERS)

    assert ids(as_user) == [str(visible.pk)]
    assert as_user.json()["pagination"]["total"] == 1
    assert ids(as_user_filtered) == []
    assert set(ids(as_admin)) == {str(visible.pk), str(hidden_active.pk), str(hidden_inactive.pk)}


def test_list_offers_shows_inactive_offers_of_active_merchants_to_users(user_client):
    # v1 compat: the list is not limited to live offers; only the merchant flag hides them.
    inactive = OfferFactory(active=False)
    expired = OfferFactory(start_date=days_from_today(-20), end_date=days_from_today(-10))

    assert set(ids(user_client.get(OFFERS))) == {str(inactive.pk), str(expired.pk)}


def test_list_offers_anonymous_is_401(api_client):
    response = api_client.get(OFFERS)

    assert response.status_code == 401
    assert error_of(response)["code"] == "INVALID_TOKEN"


def test_list_offers_runs_a_constant_number_of_queries(user_client, django_assert_num_queries):
    OfferFactory()
    with CaptureQueriesContext(connection) as with_one:
        assert len(ids(user_client.get(OFFERS, {"limit": 100}))) == 1
    OfferFactory.create_batch(49)

    with django_assert_num_queries(len(with_one)):
        assert len(ids(user_client.get(OFFERS, {"limit": 100}))) == 50


# --- GET /api/v1/offers/active --------------------------------------------------------------------


def test_active_offers_lists_only_live_offers_r50(user_client):
    live = {
        "inside": OfferFactory(),
        "starts_today": OfferFactory(start_date=days_from_today(0), end_date=days_from_today(3)),
        "ends_today": OfferFactory(start_date=days_from_today(-3), end_date=days_from_today(0)),
        "one_day": OfferFactory(start_date=days_from_today(0), end_date=days_from_today(0)),
    }
    OfferFactory(start_date=days_from_today(-10), end_date=days_from_today(-1))  # ended yesterday
    OfferFactory(start_date=days_from_today(1), end_date=days_from_today(10))  # starts tomorrow
    OfferFactory(active=False)  # offer inactive
    OfferFactory(merchant=MerchantFactory(active=False))  # merchant inactive

    response = user_client.get(ACTIVE)

    assert set(ids(response)) == {str(o.pk) for o in live.values()}
    assert response.json()["pagination"]["total"] == 4


def test_active_offers_admins_also_see_only_live_offers(admin_client):
    live = OfferFactory()
    OfferFactory(merchant=MerchantFactory(active=False))

    assert ids(admin_client.get(ACTIVE)) == [str(live.pk)]


def test_active_offers_item_shape_is_active_offer(user_client):
    offer = OfferFactory(merchant=MerchantFactory(name="Book Nook"), cashback_value=Decimal("4"),
                         monthly_cap_per_user=Decimal("25.5"))

    body = user_client.get(ACTIVE).json()

    assert body["data"] == [{
        "id": str(offer.pk), "merchant_name": "Book Nook", "cashback_type": "percent", "cashback_value": "4.00",
        "monthly_cap": "25.50", "start_date": offer.start_date.isoformat(), "end_date": offer.end_date.isoformat(),
    }]
    assert body["pagination"] == {"offset": 0, "limit": 10, "total": 1}


def test_active_offers_sort_by_lower_merchant_name(user_client):
    for name in ["beta", "Gamma", "alpha", "Delta"]:
        OfferFactory(merchant=MerchantFactory(name=name))

    response = user_client.get(ACTIVE)

    assert [o["merchant_name"] for o in response.json()["data"]] == ["alpha", "beta", "Delta", "Gamma"]


def test_active_offers_pagination(user_client):
    for n in range(7):
        OfferFactory(merchant=MerchantFactory(name=f"shop {n}"))

    body = user_client.get(ACTIVE, {"offset": 5, "limit": 5}).json()

    assert [o["merchant_name"] for o in body["data"]] == ["shop 5", "shop 6"]
    assert body["pagination"] == {"offset": 5, "limit": 5, "total": 7}


@pytest.mark.parametrize("slash", ["", "/"])
def test_the_literal_active_route_wins_over_an_offer_id(user_client, slash):
    live = OfferFactory()

    response = user_client.get(ACTIVE + slash)

    assert response.status_code == 200, response.content
    assert set(response.json()) == {"data", "pagination"}
    assert ids(response) == [str(live.pk)]


def test_active_offers_bad_pagination_is_400(user_client):
    assert violation_fields(user_client.get(ACTIVE, {"limit": "1000"})) == ["limit"]


def test_active_offers_anonymous_is_401(api_client):
    assert api_client.get(ACTIVE).status_code == 401


def test_active_offers_run_a_constant_number_of_queries(user_client, django_assert_num_queries):
    OfferFactory()
    with CaptureQueriesContext(connection) as with_one:
        assert len(ids(user_client.get(ACTIVE, {"limit": 100}))) == 1
    OfferFactory.create_batch(49)

    with django_assert_num_queries(len(with_one)):
        assert len(ids(user_client.get(ACTIVE, {"limit": 100}))) == 50


# --- GET /api/v1/offers/{offer_id} ----------------------------------------------------------------


def test_offer_details_shape_for_a_user_on_a_live_offer(user_client):
    offer = OfferFactory(merchant=MerchantFactory(name="Tea Shop"), cashback_type="fixed",
                         cashback_value=Decimal("1.5"), monthly_cap_per_user=Decimal("10"))

    response = user_client.get(offer_url(offer.pk))

    assert response.status_code == 200, response.content
    assert response.json() == {
        "id": str(offer.pk), "merchant_name": "Tea Shop", "cashback_type": "fixed", "cashback_value": "1.50",
        "monthly_cap": "10.00", "start_date": offer.start_date.isoformat(), "end_date": offer.end_date.isoformat(),
        "status": "active",
    }


@pytest.mark.parametrize(
    "build",
    [
        lambda: OfferFactory(active=False),
        lambda: OfferFactory(merchant=MerchantFactory(active=False)),
        lambda: OfferFactory(active=False, merchant=MerchantFactory(active=False)),
    ],
    ids=["offer-inactive", "merchant-inactive", "both-inactive"],
)
def test_admin_sees_any_offer_r51(admin_client, build):
    offer = build()

    response = admin_client.get(offer_url(offer.pk))

    assert response.status_code == 200, response.content
    assert set(response.json()) == DETAILS_KEYS
    assert response.json()["status"] == ("active" if offer.active else "inactive")


def forbidden_details(response, offer):
    assert response.status_code == 403, response.content
    error = error_of(response)
    assert error["code"] == "FORBIDDEN"
    assert set(error["details"]) == {"resource_type", "resource_id", "reason"}
    assert (error["details"]["resource_type"], error["details"]["resource_id"]) == ("offer", str(offer.pk))
    return error["details"]["reason"]


def test_user_cannot_see_an_inactive_offer_r51(user_client):
    offer = OfferFactory(active=False)

    reason = forbidden_details(user_client.get(offer_url(offer.pk)), offer)

    assert "offer" in reason.lower() and "inactive" in reason.lower()
    assert "merchant" not in reason.lower()


def test_user_cannot_see_an_active_offer_of_an_inactive_merchant_with_a_different_reason_r51(user_client):
    inactive_offer = OfferFactory(active=False)
    offer_of_inactive_merchant = OfferFactory(merchant=MerchantFactory(active=False))

    offer_reason = forbidden_details(user_client.get(offer_url(inactive_offer.pk)), inactive_offer)
    merchant_reason = forbidden_details(user_client.get(offer_url(offer_of_inactive_merchant.pk)),
                                        offer_of_inactive_merchant)

    assert merchant_reason != offer_reason
    assert "merchant" in merchant_reason.lower()


def test_inactive_offer_of_inactive_merchant_answers_with_the_offer_reason_first_r51(user_client):
    reference = OfferFactory(active=False)
    offer = OfferFactory(active=False, merchant=MerchantFactory(active=False))

    reason = forbidden_details(user_client.get(offer_url(offer.pk)), offer)

    assert reason == forbidden_details(user_client.get(offer_url(reference.pk)), reference)


@pytest.mark.parametrize(("start", "end"), [(-30, -1), (5, 30)], ids=["expired", "not-started"])
def test_user_sees_an_active_offer_outside_its_window_r51(user_client, start, end):
    offer = OfferFactory(start_date=days_from_today(start), end_date=days_from_today(end))

    response = user_client.get(offer_url(offer.pk))

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "active"


@pytest.mark.parametrize("offer_id", [UNKNOWN_ID, "not-a-uuid", uuid.UUID(UNKNOWN_ID).hex, "123"])
@pytest.mark.parametrize("role", ["user", "admin"])
def test_offer_details_unknown_or_malformed_id_is_404(role, offer_id):
    client = bearer_client(UserFactory(role=role))

    response = client.get(offer_url(offer_id))

    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "NOT_FOUND"
    assert error["details"] == {"resource_type": "offer", "resource_id": offer_id}


def test_offer_details_accepts_an_uppercase_id_r212(user_client):
    offer = OfferFactory()

    response = user_client.get(offer_url(str(offer.pk).upper()))

    assert response.status_code == 200
    assert response.json()["id"] == str(offer.pk)


def test_offer_details_anonymous_is_401_before_existence(api_client):
    for offer_id in (UNKNOWN_ID, "not-a-uuid"):
        response = api_client.get(offer_url(offer_id))
        assert response.status_code == 401
        assert error_of(response)["code"] == "INVALID_TOKEN"


# --- PATCH /api/v1/offers/{offer_id}/status -------------------------------------------------------


def status_url(offer, slash=""):
    return offer_url(getattr(offer, "pk", offer), "/status" + slash)


def offer_audits(offer, action=None):
    rows = AuditLog.objects.filter(resource_type="offer", resource_id=str(offer.pk))
    return rows.filter(action=action) if action else rows


def test_deactivate_offer_answers_status_change_and_audits_from_to(admin_client):
    offer = OfferFactory()

    response = admin_client.patch(status_url(offer), {"status": "inactive"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json() == {"id": str(offer.pk), "status": "inactive"}
    assert Offer.objects.get(pk=offer.pk).active is False
    audit = offer_audits(offer).get()
    assert audit.action == AuditAction.OFFER_DEACTIVATED
    assert (audit.actor_type, audit.actor_id) == ("admin", admin_client.account.id)
    assert audit.details == {"from": "active", "to": "inactive"}


def test_activate_offer_answers_status_change_and_audits_from_to(admin_client):
    offer = OfferFactory(active=False)

    response = admin_client.patch(status_url(offer, "/"), {"status": "active"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json() == {"id": str(offer.pk), "status": "active"}
    assert Offer.objects.get(pk=offer.pk).active is True
    assert offer_audits(offer).get().action == AuditAction.OFFER_ACTIVATED


@pytest.mark.parametrize(("start_active", "target"), [(True, "active"), (False, "inactive")])
def test_setting_the_same_offer_status_again_is_200_without_a_second_audit_row(admin_client, start_active, target):
    offer = OfferFactory(active=not start_active)
    admin_client.patch(status_url(offer), {"status": target}, format="json")
    assert offer_audits(offer).count() == 1

    again = admin_client.patch(status_url(offer), {"status": target}, format="json")

    assert again.status_code == 200
    assert again.json() == {"id": str(offer.pk), "status": target}
    assert Offer.objects.get(pk=offer.pk).active is start_active
    assert offer_audits(offer).count() == 1


def test_activating_while_another_offer_of_the_merchant_is_active_is_409_r45(admin_client):
    current = OfferFactory()
    other = OfferFactory(merchant=current.merchant, active=False)

    response = admin_client.patch(status_url(other), {"status": "active"}, format="json")

    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "ACTIVE_OFFER_ALREADY_EXISTS"
    assert error["details"]["merchant_id"] == str(current.merchant_id)
    assert error["details"]["active_offer_id"] == str(current.pk)
    assert list(Offer.objects.filter(active=True).values_list("pk", flat=True)) == [current.pk]
    assert not offer_audits(other).exists()  # no audit row for a refused API call


def test_reactivating_the_already_active_offer_is_not_a_conflict_with_itself_r45(admin_client):
    current = OfferFactory()

    response = admin_client.patch(status_url(current), {"status": "active"}, format="json")

    assert response.status_code == 200


def test_switching_the_active_offer_deactivate_then_activate_r46(admin_client):
    old = OfferFactory()
    new = OfferFactory(merchant=old.merchant, active=False)

    assert admin_client.patch(status_url(old), {"status": "inactive"}, format="json").status_code == 200
    assert admin_client.patch(status_url(new), {"status": "active"}, format="json").status_code == 200

    assert list(Offer.objects.filter(active=True).values_list("pk", flat=True)) == [new.pk]


def test_an_offer_of_an_inactive_merchant_may_be_activated_r49(admin_client):
    offer = OfferFactory(active=False, merchant=MerchantFactory(active=False))

    response = admin_client.patch(status_url(offer), {"status": "active"}, format="json")

    assert response.status_code == 200, response.content
    assert Offer.objects.get(pk=offer.pk).active is True


@pytest.mark.parametrize("body", [{}, {"status": "enabled"}, {"status": "ACTIVE"}, {"status": True},
                                  {"status": None}, {"active": True}])
def test_status_missing_or_invalid_is_400_on_field_status(admin_client, body):
    offer = OfferFactory()

    response = admin_client.patch(status_url(offer), body, format="json")

    assert violation_fields(response) == ["status"]
    assert Offer.objects.get(pk=offer.pk).active is True


@pytest.mark.parametrize("offer_id", [UNKNOWN_ID, "not-a-uuid"])
def test_status_bad_body_on_unknown_id_is_400_before_404(admin_client, offer_id):
    assert violation_fields(admin_client.patch(status_url(offer_id), {"status": "on"}, format="json")) == ["status"]


@pytest.mark.parametrize("offer_id", [UNKNOWN_ID, "not-a-uuid"])
def test_status_on_unknown_or_malformed_id_is_404_offer(admin_client, offer_id):
    response = admin_client.patch(status_url(offer_id), {"status": "active"}, format="json")

    assert response.status_code == 404
    assert error_of(response)["details"] == {"resource_type": "offer", "resource_id": offer_id}


def test_status_by_plain_user_is_403_and_changes_nothing(user_client):
    offer = OfferFactory()

    for url, body in ((status_url(offer), {"status": "inactive"}), (status_url(UNKNOWN_ID), {"status": "x"})):
        response = user_client.patch(url, body, format="json")
        assert response.status_code == 403
        assert error_of(response)["details"] == {"required_role": "admin", "current_role": "user"}
    assert Offer.objects.get(pk=offer.pk).active is True
    assert not offer_audits(offer).exists()


def test_status_anonymous_is_401(api_client):
    offer = OfferFactory()

    response = api_client.patch(status_url(offer), {"status": "inactive"}, format="json")

    assert response.status_code == 401
    assert error_of(response)["code"] == "INVALID_TOKEN"
    assert Offer.objects.get(pk=offer.pk).active is True


# --- routes and methods (api.md §0.6) -------------------------------------------------------------


def test_offers_have_no_delete_or_edit_route_r8_r48(admin_client):
    offer = OfferFactory()

    for method in ("delete", "put", "patch"):
        response = getattr(admin_client, method)(offer_url(offer.pk), {"cashback_value": "1.00"}, format="json")
        assert response.status_code == 405, (method, response.content)
        assert error_of(response)["details"] == {"allowed": ["GET"]}
    assert Offer.objects.get(pk=offer.pk).cashback_value == Decimal("5.00")


def test_wrong_method_on_offers_collection_is_405_for_users_and_401_for_anonymous(user_client, api_client):
    response = user_client.delete(OFFERS)

    assert response.status_code == 405
    assert error_of(response)["details"] == {"allowed": ["GET", "POST"]}
    assert api_client.delete(OFFERS).status_code == 401


def test_active_offer_rows_render_exactly_as_the_documented_serializer(user_client):
    # Issue 7: GET /offers/active renders values() rows with a plain function; the wire shape stays
    # ActiveOfferSerializer's (the schema's), field for field.
    from offers.serializers import ActiveOfferSerializer, active_offer_row
    from offers.selectors import live_offer_rows, live_offers

    OfferFactory(cashback_type="fixed", cashback_value=Decimal("2.50"), monthly_cap_per_user=Decimal("1000.00"))
    OfferFactory(cashback_type="percent", cashback_value=Decimal("7.25"))
    rows = [active_offer_row(row) for row in live_offer_rows()]
    assert rows == ActiveOfferSerializer(list(live_offers()), many=True).data
    assert user_client.get("/api/v1/offers/active").json()["data"] == rows
