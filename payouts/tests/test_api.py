"""The payouts API (api.md §9, aliases §0.7) through APIClient and the real URLconf: status, body,
and what changed — or did not — in payouts, wallets, ledger, idempotency keys and audit rows."""

import datetime as dt
import json
import re
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import UserFactory
from clicknback.audit.models import ActorType, AuditAction, AuditLog, Outcome
from clicknback.audit.services import Actor
from clicknback.testing import error_of, violation_fields
from conftest import bearer_client
from payouts import policies
from payouts.models import Payout, PayoutStatus
from payouts.tests.factories import corrupts_ledger, ledger_reconciles_after_each_test  # noqa: F401 (fixtures)
from payouts.tests.factories import (
    ME,
    PAYOUTS,
    as_json,
    assert_ledger_reconciles,
    backdate,
    balances,
    give_available,
    hours_ago,
    move,
    payout_in,
    request,
    utc_now,
    written_state,
)
from purchases import services as purchase_services
from wallets.models import BalanceName, LedgerEntry, LedgerReason

# after every test of this module (a forged ledger is opted out with `corrupts_ledger`).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ledger_reconciles_after_each_test")]

D = Decimal
S = PayoutStatus
PAYOUT_FIELDS = {"id", "user_id", "amount", "currency", "method", "details", "status", "status_reason",
                 "external_reference", "requested_at", "approved_at", "processing_started_at", "processed_at"}
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


@pytest.fixture
def funded(user):
    """The caller has 100.00 available."""
    give_available(user, "100.00")
    return user


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def relaxed(settings):
    """Only the balance binds: set-ups that need several payouts of one user close together."""
    settings.PAYOUT_MIN_INTERVAL_HOURS = 0
    settings.PAYOUT_WEEKLY_LIMIT = D("1000000.00")
    return settings


def post(client, body, *, url=ME, key=None):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(url, body, format="json", **headers)


def post_raw(client, text: str, *, url=ME):
    return client.generic("POST", url, text.encode(), content_type="application/json")


def policy_rules(response) -> list[str]:
    error = error_of(response, 422, "PAYOUT_POLICY_VIOLATION")
    assert all(set(v) == {"rule", "reason"} and v["reason"] for v in error["details"]["violations"])
    return [v["rule"] for v in error["details"]["violations"]]


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["data"]]


# === POST /users/me/payouts: success (R-121) ==========================================================


def test_request_answers_201_with_the_full_payout(user, user_client, funded):
    response = post(user_client, {"amount": "30.00"})

    assert response.status_code == 201, response.content
    assert response["Content-Type"] == "application/json"
    assert "Idempotent-Replayed" not in response
    body = response.json()
    assert set(body) == PAYOUT_FIELDS
    payout = Payout.objects.get()
    assert body == {
        "id": str(payout.pk), "user_id": str(user.pk), "amount": "30.00", "currency": "EUR",
        "method": "bank_transfer", "details": {}, "status": "requested", "status_reason": None,
        "external_reference": None, "requested_at": body["requested_at"], "approved_at": None,
        "processing_started_at": None, "processed_at": None,
    }
    assert DATETIME.match(body["requested_at"])
    assert body["requested_at"] == payout.requested_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # What a later GET shows is what the POST answered.
    assert user_client.get(f"{PAYOUTS}/{payout.pk}").json() == body


def test_request_takes_the_amount_out_of_available_at_once_with_ledger_and_audit(user, user_client, funded):
    before = balances(user)

    response = post(user_client, {"amount": "30.00"})

    payout = Payout.objects.get(pk=response.json()["id"])
    assert balances(user) == {**before, "available": D("70.00")}  # in flight, in no balance
    entry = LedgerEntry.objects.get(payout=payout)
    assert (entry.balance, entry.amount, entry.balance_after, entry.reason) == (
        BalanceName.AVAILABLE, D("-30.00"), D("70.00"), LedgerReason.PAYOUT_REQUESTED)
    assert (entry.actor_type, entry.actor_id, entry.purchase_id) == (ActorType.USER, user.pk, None)
    audit = AuditLog.objects.get(action=AuditAction.PAYOUT_REQUESTED)
    assert (audit.actor_type, audit.actor_id, audit.resource_type, audit.resource_id, audit.outcome) == (
        ActorType.USER, user.pk, "payout", str(payout.pk), Outcome.SUCCESS)
    assert audit.details["amount"] == "30.00" and audit.details["method"] == "bank_transfer"
    assert_ledger_reconciles()


@pytest.mark.parametrize("amount, shown", [
    ("30", "30.00"), (30, "30.00"), ("30.5", "30.50"), (30.25, "30.25"), ("10.00", "10.00"), ("100.00", "100.00"),
])
def test_amount_is_accepted_as_number_or_numeric_string_and_shown_with_two_decimals(user_client, funded, amount,
                                                                                     shown):
    response = post(user_client, {"amount": amount})
    assert response.status_code == 201, response.content
    assert response.json()["amount"] == shown
    assert Payout.objects.get().amount == D(shown)


def test_card_method_and_details_are_stored_and_returned_as_given(user, user_client, funded):
    details = {"iban": "DE89 3704 0044 0532 0130 00", "holder": {"name": "Zoë Ørsted"}, "tags": ["a", "b"],
               "count": 3, "ratio": 1.5, "flag": True, "note": None}

    response = post_raw(user_client, json.dumps({"amount": "30.00", "method": "card", "details": details}))

    assert response.status_code == 201, response.content
    assert response.json()["method"] == "card"
    assert response.json()["details"] == details
    payout = Payout.objects.get()
    assert payout.details == details
    assert user_client.get(f"{PAYOUTS}/{payout.pk}").json()["details"] == details


def test_unknown_body_fields_are_ignored(user_client, funded):
    response = post(user_client, {"amount": "30.00", "status": "paid", "user_id": str(uuid.uuid4()), "currency": "USD"})
    assert response.status_code == 201
    assert (response.json()["status"], response.json()["currency"]) == ("requested", "EUR")


def test_trailing_slash_is_the_same_endpoint(user_client, funded):
    assert post(user_client, {"amount": "30.00"}, url=ME + "/").status_code == 201


# === POST: validation (400, api.md §0.4) — nothing is written ========================================


@pytest.mark.parametrize("body", [
    {"amount": 0}, {"amount": "0"}, {"amount": "0.00"}, {"amount": "-0.00"}, {"amount": -5}, {"amount": "-5.00"},
    {"amount": 0.001}, {"amount": "0.001"}, {"amount": "10.001"}, {"amount": "1e3"}, {"amount": "1E3"},
    {"amount": "1000000.01"}, {"amount": 1000000.01}, {"amount": "99999999999999999999.00"}, {"amount": 10**30},
    {"amount": "abc"}, {"amount": ""}, {"amount": " 30.00"}, {"amount": "+30"}, {"amount": "NaN"},
    {"amount": "Infinity"}, {"amount": None}, {"amount": True}, {"amount": [30]}, {"amount": {"v": 30}},
    {}, {"method": "card"},
])
def test_malformed_amount_is_400_on_field_amount_and_writes_nothing(funded, user_client, body):
    before = written_state()
    response = post(user_client, body)
    assert violation_fields(response) == ["amount"]
    assert written_state() == before


@pytest.mark.parametrize("text", ['{"amount": 1e3}', '{"amount": 1E+2}', '{"amount": NaN}', '{"amount": Infinity}'])
def test_json_numbers_in_exponent_notation_or_non_finite_are_400(funded, user_client, text):
    before = written_state()
    response = post_raw(user_client, text)
    assert error_of(response, 400, "VALIDATION_ERROR")
    assert written_state() == before


def test_the_largest_allowed_amount_passes_validation_and_meets_the_policy(funded, user_client):
    # 1000000.00 is well-formed (≤ 1000000.00): the answer is the weekly limit (422), not a 400.
    assert policy_rules(post(user_client, {"amount": "1000000.00"})) == ["weekly_limit"]


@pytest.mark.parametrize("method", ["cash", "", "CARD", None, 1, ["card"]])
def test_unknown_method_is_400_on_field_method(funded, user_client, method):
    before = written_state()
    assert violation_fields(post(user_client, {"amount": "30.00", "method": method})) == ["method"]
    assert written_state() == before


@pytest.mark.parametrize("details", [["iban", "DE89"], "DE89", 5, None, True])
def test_details_that_are_not_an_object_are_400_on_field_details(funded, user_client, details):
    before = written_state()
    assert violation_fields(post(user_client, {"amount": "30.00", "details": details})) == ["details"]
    assert written_state() == before


def test_details_with_a_number_too_large_for_json_is_400_not_a_500(funded, user_client):
    before = written_state()
    assert violation_fields(post_raw(user_client, '{"amount": "30.00", "details": {"n": 1e400}}')) == ["details"]
    assert written_state() == before


@pytest.mark.parametrize("text", [
    '{"amount": "30.00", "details": {"note": "a\\u0000b"}}',
    '{"amount": "30.00", "details": {"a\\u0000": "b"}}',
    '{"amount": "30.00", "details": {"note": ["\\ud800"]}}',
    '{"amount": "30.00", "details": {"\\udc00": 1}}',
])
def test_details_text_the_database_cannot_store_is_400_not_a_500(funded, user_client, text):
    # NUL and lone surrogates are valid JSON escapes but not storable in jsonb.
    before = written_state()
    assert violation_fields(post_raw(user_client, text)) == ["details"]
    assert written_state() == before


@pytest.mark.parametrize("size, accepted", [(2048, True), (2049, False)])
def test_details_limit_is_2048_bytes_of_compact_json(funded, user_client, size, accepted):
    details = {"note": "x" * (size - len('{"note":""}'))}
    response = post(user_client, {"amount": "30.00", "details": details})
    assert response.status_code == (201 if accepted else 400), response.content


def test_details_over_2_kib_serialized_are_400(funded, user_client):
    before = written_state()
    response = post(user_client, {"amount": "30.00", "details": {"note": "x" * 2100}})
    assert violation_fields(response) == ["details"]
    assert written_state() == before


def test_details_of_2_kib_in_utf8_are_accepted_even_with_non_ascii_text(funded, user_client):
    # 900 × "é" is 1800 bytes of UTF-8: within "≤ 2 KiB serialized" (an \u-escaped count would be 5400).
    details = {"note": "é" * 900}
    response = post(user_client, {"amount": "30.00", "details": details})
    assert response.status_code == 201, response.content
    assert response.json()["details"] == details


@pytest.mark.parametrize("text", ["[]", "null", '"x"', "{", "not json", '{"amount": "30.00",}'])
def test_a_body_that_is_not_a_json_object_is_400_on_field_body(funded, user_client, text):
    before = written_state()
    assert "body" in violation_fields(post_raw(user_client, text))
    assert written_state() == before


@pytest.mark.parametrize("key", ["", " ", "with space", "ké", "tab\tkey", "k" * 256, "\x7f"])
def test_malformed_idempotency_key_is_400_on_the_header(funded, user_client, key):
    # R-140 (1–255 visible ASCII characters), R-204 (an empty key is a 400).
    before = written_state()
    response = post(user_client, {"amount": "30.00"}, key=key)
    assert violation_fields(response) == ["Idempotency-Key"]
    assert written_state() == before


@pytest.mark.parametrize("key", ["k" * 255, "!", "~", "a-b_c.d:e/f=" + uuid.uuid4().hex])
def test_well_formed_idempotency_keys_are_accepted(funded, user_client, key):
    assert post(user_client, {"amount": "30.00"}, key=key).status_code == 201


def test_body_and_header_problems_are_reported_together(funded, user_client):
    response = post(user_client, {"amount": "abc", "method": "cash"}, key="")
    assert sorted(violation_fields(response)) == ["Idempotency-Key", "amount", "method"]


def test_validation_answers_before_the_policy(user_client):
    # A user with nothing available asking 5.001: 400 (format) before 422 (min_amount) before 409.
    assert violation_fields(post(user_client, {"amount": "5.001"})) == ["amount"]


# === POST: policy (422, R-122…) ==========================================================


def test_below_the_minimum_amount_is_422_min_amount(funded, user_client):
    before = written_state()
    assert policy_rules(post(user_client, {"amount": "9.99"})) == ["min_amount"]
    assert written_state() == before


def test_the_minimum_amount_itself_is_allowed(funded, user_client):
    assert post(user_client, {"amount": "10.00"}).status_code == 201


def test_a_second_payout_within_48_hours_is_422_min_interval(user, funded, user_client):
    assert post(user_client, {"amount": "30.00"}).status_code == 201
    before = written_state()

    response = post(user_client, {"amount": "30.00"})

    assert policy_rules(response) == ["min_interval"]
    assert "48 hours" in response.json()["error"]["details"]["violations"][0]["reason"]
    assert written_state() == before
    assert balances(user)["available"] == D("70.00")


@pytest.mark.parametrize("age_hours, allowed", [(47.9, False), (48.01, True)])
def test_the_interval_counts_from_the_last_request(user, funded, user_client, age_hours, allowed):
    backdate(request(user, "30.00"), requested_at=hours_ago(age_hours))
    response = post(user_client, {"amount": "30.00"})
    if allowed:
        assert response.status_code == 201, response.content
    else:
        assert policy_rules(response) == ["min_interval"]


@pytest.mark.parametrize("earlier_status", [S.REJECTED, S.FAILED])
def test_a_rejected_or_failed_earlier_payout_does_not_count_for_the_interval(user, admin_user, user_client, funded,
                                                                             earlier_status):
    move(request(user, "30.00"), earlier_status, admin=admin_user, reason="bank account closed")
    assert post(user_client, {"amount": "30.00"}).status_code == 201
    assert_ledger_reconciles()


@pytest.mark.parametrize("earlier_status", [S.APPROVED, S.PROCESSING, S.PAID])
def test_an_approved_processing_or_paid_earlier_payout_counts_for_the_interval(user, admin_user, user_client, funded,
                                                                               earlier_status):
    move(request(user, "30.00"), earlier_status, admin=admin_user)
    assert policy_rules(post(user_client, {"amount": "30.00"})) == ["min_interval"]


def _monday() -> dt.datetime:
    return policies.week_start(utc_now())


def test_weekly_limit_counts_this_weeks_payouts_and_the_new_amount(user, user_client, settings):
    settings.PAYOUT_MIN_INTERVAL_HOURS = 0  # only the weekly rule binds
    give_available(user, "300.00")
    backdate(request(user, "150.00"), requested_at=_monday())  # Monday 00:00 UTC is inside the week
    before = written_state()

    response = post(user_client, {"amount": "50.01"})

    assert policy_rules(response) == ["weekly_limit"]
    assert "200.01" in response.json()["error"]["details"]["violations"][0]["reason"]
    assert written_state() == before
    assert post(user_client, {"amount": "50.00"}).status_code == 201  # exactly 200.00 is allowed
    assert_ledger_reconciles()


def test_weekly_limit_ignores_last_weeks_payouts(user, user_client, settings):
    settings.PAYOUT_MIN_INTERVAL_HOURS = 0
    give_available(user, "350.00")
    # Sunday 23:59:59.999999 of the previous ISO week.
    backdate(request(user, "190.00"), requested_at=_monday() - dt.timedelta(microseconds=1))
    assert post(user_client, {"amount": "150.00"}).status_code == 201


@pytest.mark.parametrize("status, counts", [
    (S.REJECTED, False), (S.FAILED, False), (S.REQUESTED, True), (S.APPROVED, True), (S.PROCESSING, True),
    (S.PAID, True),
])
def test_weekly_limit_counts_every_payout_but_rejected_and_failed(user, admin_user, user_client, settings, status,
                                                                  counts):
    settings.PAYOUT_MIN_INTERVAL_HOURS = 0
    give_available(user, "300.00")
    earlier = backdate(request(user, "150.00"), requested_at=_monday())
    move(earlier, status, admin=admin_user, reason="r")

    response = post(user_client, {"amount": "100.00"})

    if counts:
        assert policy_rules(response) == ["weekly_limit"]
    else:
        assert response.status_code == 201, response.content


def test_several_policy_failures_come_in_one_answer(user, user_client):
    give_available(user, "300.00")
    request(user, "195.00")  # just now, this week
    before = written_state()

    response = post(user_client, {"amount": "9.00"})

    assert policy_rules(response) == ["min_amount", "min_interval", "weekly_limit"]
    assert written_state() == before


def test_policy_is_checked_before_the_balance(user, user_client):
    # a user with 0.00 available asking 5.00 hears about the minimum, not the balance.
    before = written_state()
    assert policy_rules(post(user_client, {"amount": "5.00"})) == ["min_amount"]
    assert written_state() == before


# === POST: balance (409, R-125) ======================================================================


def test_more_than_available_is_409_insufficient_balance_with_both_amounts(user, funded, user_client):
    before = written_state()
    error = error_of(post(user_client, {"amount": "100.01"}), 409, "INSUFFICIENT_BALANCE")
    assert error["details"] == {"requested_amount": "100.01", "available_balance": "100.00"}
    assert written_state() == before


def test_nothing_available_is_409_with_zero_balance(user_client):
    error = error_of(post(user_client, {"amount": "10.00"}), 409, "INSUFFICIENT_BALANCE")
    assert error["details"] == {"requested_amount": "10.00", "available_balance": "0.00"}


def test_the_whole_available_balance_can_be_paid_out(user, funded, user_client):
    assert post(user_client, {"amount": "100.00"}).status_code == 201
    assert balances(user)["available"] == D("0.00")
    assert_ledger_reconciles()


def test_a_user_with_clawback_cannot_request_a_payout(user, user_client):
    # clawback > 0 ⇒ available = 0 ⇒ every payout is 409 until new cashback repays it.
    [purchase] = give_available(user, "100.00")
    backdate(request(user, "100.00"), requested_at=hours_ago(72))
    purchase_services.reverse_purchase(purchase_id=purchase.pk, reason="chargeback", actor=Actor.system())
    assert balances(user)["clawback"] == D("100.00") and balances(user)["available"] == D("0.00")
    before = written_state()

    error = error_of(post(user_client, {"amount": "10.00"}), 409, "INSUFFICIENT_BALANCE")

    assert error["details"] == {"requested_amount": "10.00", "available_balance": "0.00"}
    assert written_state() == before
    assert_ledger_reconciles()


# === POST: who (R-21, R-22, §0.7) =====================================================================


def test_alias_with_own_id_requests_for_the_caller(user, funded, user_client):
    response = post(user_client, {"amount": "30.00"}, url=f"/api/v1/users/{user.pk}/payouts")
    assert response.status_code == 201, response.content
    assert response.json()["user_id"] == str(user.pk)


def test_alias_with_own_id_in_upper_case_is_the_caller(user, funded, user_client):
    response = post(user_client, {"amount": "30.00"}, url=f"/api/v1/users/{str(user.pk).upper()}/payouts/")
    assert response.status_code == 201, response.content


def test_alias_with_me_is_the_caller(user, funded, user_client):
    assert post(user_client, {"amount": "30.00"}, url="/api/v1/users/me/payouts/").status_code == 201


@pytest.mark.parametrize("caller", ["user", "admin"])
@pytest.mark.parametrize("target", ["other", "unknown", "malformed"])
def test_nobody_requests_a_payout_for_another_user_not_even_an_admin(user, admin_user, other_user, caller, target):
    give_available(other_user, "100.00")
    client = bearer_client(user if caller == "user" else admin_user)
    path_id = {"other": str(other_user.pk), "unknown": str(uuid.uuid4()), "malformed": "not-a-uuid"}[target]
    before = written_state()

    # 403 before validation, whatever the body (§0.6, R-22).
    for body in ({"amount": "30.00"}, {"amount": "abc"}):
        error = error_of(post(client, body, url=f"/api/v1/users/{path_id}/payouts"), 403, "FORBIDDEN")
        assert error["details"] == {"reason": "You can only access your own resources."}
    assert written_state() == before


def test_anonymous_request_is_401(funded, api_client):
    before = written_state()
    response = post(api_client, {"amount": "30.00"})
    error_of(response, 401, "INVALID_TOKEN")
    assert response["WWW-Authenticate"] == "Bearer"
    assert written_state() == before


def test_methods_the_collection_does_not_have_are_405(user_client):
    error = error_of(user_client.put(ME, {}, format="json"), 405, "METHOD_NOT_ALLOWED")
    assert error["details"] == {"allowed": ["GET", "POST"]}


def test_over_the_hourly_rate_is_429_and_writes_nothing(user, user_client, other_user, relaxed):
    # payout requests 10/hour per user (lowered here).
    relaxed.THROTTLING_ENABLED = True
    relaxed.THROTTLE_RATES = {**relaxed.THROTTLE_RATES, "payout_user": "2/hour"}
    give_available(user, "100.00")
    for _ in range(2):
        assert post(user_client, {"amount": "10.00"}).status_code == 201
    before = written_state()

    response = post(user_client, {"amount": "10.00"})

    error = error_of(response, 429, "RATE_LIMITED")
    assert response["Retry-After"] == str(error["details"]["retry_after_seconds"])
    assert written_state() == before
    give_available(other_user, "100.00")
    assert post(bearer_client(other_user), {"amount": "10.00"}).status_code == 201  # per user


# === GET /users/me/payouts ============================================================================


@pytest.fixture
def three_payouts(user, admin_user, relaxed):
    """The user's payouts: oldest rejected, then approved, newest requested; another user has one too."""
    give_available(user, "90.00")
    oldest = move(backdate(request(user, "30.00"), requested_at=hours_ago(100)), S.REJECTED, admin=admin_user,
                  reason="r")
    middle = move(backdate(request(user, "30.00"), requested_at=hours_ago(50)), S.APPROVED, admin=admin_user)
    newest = request(user, "30.00")
    stranger = UserFactory()
    give_available(stranger, "30.00")
    request(stranger, "30.00")
    return newest, middle, oldest


def test_my_payouts_lists_only_mine_newest_first(user_client, three_payouts):
    newest, middle, oldest = three_payouts
    response = user_client.get(ME)
    assert ids(response) == [str(newest.pk), str(middle.pk), str(oldest.pk)]
    assert response.json()["pagination"] == {"offset": 0, "limit": 10, "total": 3}
    assert response.json()["data"][0] == as_json(newest)
    assert response.json()["data"][2]["status_reason"] == "r"


def test_my_payouts_with_the_same_request_time_are_ordered_by_id(user, user_client, relaxed):
    give_available(user, "60.00")
    moment = hours_ago(5)
    pair = [backdate(request(user, "30.00"), requested_at=moment) for _ in range(2)]
    assert ids(user_client.get(ME)) == sorted(str(p.pk) for p in pair)


@pytest.mark.parametrize("status, expected", [
    ("requested", ["newest"]), ("pending", ["newest"]), ("approved", ["middle"]), ("rejected", ["oldest"]),
    ("paid", []), ("processing", []), ("failed", []),
])
def test_my_payouts_filter_by_status_with_pending_as_requested(user_client, three_payouts, status, expected):
    named = dict(zip(["newest", "middle", "oldest"], three_payouts, strict=True))
    response = user_client.get(ME, {"status": status})
    assert ids(response) == [str(named[name].pk) for name in expected]
    assert response.json()["pagination"]["total"] == len(expected)


@pytest.mark.parametrize("status", ["cancelled", "PENDING", "", "requested,approved"])
def test_my_payouts_unknown_status_is_400_on_field_status(user_client, status):
    assert violation_fields(user_client.get(ME, {"status": status})) == ["status"]


def test_my_payouts_pages(user_client, three_payouts):
    newest, middle, oldest = three_payouts
    response = user_client.get(ME, {"offset": "1", "limit": "2"})
    assert ids(response) == [str(middle.pk), str(oldest.pk)]
    assert response.json()["pagination"] == {"offset": 1, "limit": 2, "total": 3}
    past_end = user_client.get(ME, {"offset": "5"})
    assert ids(past_end) == [] and past_end.json()["pagination"]["total"] == 3


def test_my_payouts_bad_paging_and_status_are_reported_together(user_client):
    response = user_client.get(ME, {"status": "nope", "limit": "0", "offset": "-1"})
    assert sorted(violation_fields(response)) == ["limit", "offset", "status"]


def test_admin_reads_a_users_payouts_through_the_alias(user, admin_client, three_payouts):
    assert ids(admin_client.get(f"/api/v1/users/{user.pk}/payouts")) == [str(p.pk) for p in three_payouts]
    assert ids(admin_client.get(f"/api/v1/users/{user.pk}/payouts/", {"status": "pending"})) == [
        str(three_payouts[0].pk)]


@pytest.mark.parametrize("path_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_admin_alias_for_a_missing_user_is_404_user_after_validation(admin_client, path_id):
    error = error_of(admin_client.get(f"/api/v1/users/{path_id}/payouts"), 404, "NOT_FOUND")
    assert error["details"]["resource_type"] == "user"
    assert violation_fields(admin_client.get(f"/api/v1/users/{path_id}/payouts", {"status": "x"})) == ["status"]


def test_user_alias_with_own_id_or_me_works(user, user_client, three_payouts):
    expected = [str(p.pk) for p in three_payouts]
    assert ids(user_client.get(f"/api/v1/users/{user.pk}/payouts")) == expected
    assert ids(user_client.get("/api/v1/users/me/payouts/")) == expected


@pytest.mark.parametrize("path_id", ["other", str(uuid.uuid4()), "not-a-uuid"])
def test_user_alias_for_anyone_else_is_403_even_with_a_bad_query(user_client, other_user, path_id):
    path_id = str(other_user.pk) if path_id == "other" else path_id
    for query in ({}, {"status": "nope"}):
        error = error_of(user_client.get(f"/api/v1/users/{path_id}/payouts", query), 403, "FORBIDDEN")
        assert error["details"] == {"reason": "You can only access your own resources."}


def test_my_payouts_anonymous_is_401(api_client):
    error_of(api_client.get(ME), 401, "INVALID_TOKEN")


# === GET /payouts (admin) =============================================================================


def test_admin_list_shows_every_users_payouts_newest_first(user, admin_client, three_payouts):
    stranger_payout = Payout.objects.exclude(user=user).get()
    response = admin_client.get(PAYOUTS)
    assert ids(response) == [str(stranger_payout.pk)] + [str(p.pk) for p in three_payouts]
    assert response.json()["pagination"]["total"] == 4
    assert response.json()["data"][1] == as_json(three_payouts[0])


@pytest.mark.parametrize("status, count", [("pending", 2), ("requested", 2), ("approved", 1), ("rejected", 1),
                                           ("paid", 0)])
def test_admin_list_filters_by_status(admin_client, three_payouts, status, count):
    response = admin_client.get(PAYOUTS, {"status": status})
    assert len(ids(response)) == count
    expected = S.REQUESTED if status == "pending" else status
    assert {item["status"] for item in response.json()["data"]} <= {expected}


def test_admin_list_filters_by_user(user, admin_client, three_payouts):
    assert ids(admin_client.get(PAYOUTS, {"user_id": str(user.pk)})) == [str(p.pk) for p in three_payouts]
    assert ids(admin_client.get(PAYOUTS, {"user_id": str(uuid.uuid4())})) == []


@pytest.fixture
def dated_payouts(user, relaxed):
    """Payouts at the edges of 10…12 January 2026 (UTC)."""
    give_available(user, "120.00")
    at = {
        "before": dt.datetime(2026, 1, 9, 23, 59, 59, 999999, tzinfo=dt.UTC),
        "first": dt.datetime(2026, 1, 10, 0, 0, tzinfo=dt.UTC),
        "last": dt.datetime(2026, 1, 12, 23, 59, 59, 999999, tzinfo=dt.UTC),
        "after": dt.datetime(2026, 1, 13, 0, 0, tzinfo=dt.UTC),
    }
    return {name: str(backdate(request(user, "30.00"), requested_at=moment).pk) for name, moment in at.items()}


@pytest.mark.parametrize("query, expected", [
    ({"start_date": "2026-01-10", "end_date": "2026-01-12"}, ["last", "first"]),
    ({"start_date": "2026-01-10"}, ["after", "last", "first"]),
    ({"end_date": "2026-01-12"}, ["last", "first", "before"]),
    ({"start_date": "2026-01-10", "end_date": "2026-01-10"}, ["first"]),
    ({"start_date": "2026-01-13", "end_date": "2026-01-13"}, ["after"]),
    ({"start_date": "2026-01-11", "end_date": "2026-01-11"}, []),
])
def test_admin_list_date_bounds_are_inclusive_utc_days(admin_client, dated_payouts, query, expected):
    assert ids(admin_client.get(PAYOUTS, query)) == [dated_payouts[name] for name in expected]


def test_admin_list_inverted_dates_are_400_on_start_date(admin_client):
    response = admin_client.get(PAYOUTS, {"start_date": "2026-01-12", "end_date": "2026-01-10"})
    assert violation_fields(response) == ["start_date"]


@pytest.mark.parametrize("query, field", [
    ({"start_date": "2026-1-10"}, "start_date"), ({"end_date": "12/01/2026"}, "end_date"),
    ({"start_date": "2026-02-30"}, "start_date"), ({"user_id": "42"}, "user_id"), ({"status": "sent"}, "status"),
    ({"limit": "101"}, "limit"), ({"offset": "x"}, "offset"),
])
def test_admin_list_bad_query_is_400_naming_the_parameter(admin_client, query, field):
    assert violation_fields(admin_client.get(PAYOUTS, query)) == [field]


def test_admin_list_reports_every_bad_parameter_together(admin_client):
    response = admin_client.get(PAYOUTS, {"status": "x", "user_id": "y", "start_date": "z", "limit": "0"})
    assert sorted(violation_fields(response)) == ["limit", "start_date", "status", "user_id"]


def test_admin_list_is_403_for_a_user_and_401_anonymous(user_client, api_client):
    error = error_of(user_client.get(PAYOUTS), 403, "FORBIDDEN")
    assert error["details"] == {"required_role": "admin", "current_role": "user"}
    error_of(user_client.get(PAYOUTS, {"status": "nope"}), 403, "FORBIDDEN")  # role before validation
    error_of(api_client.get(PAYOUTS), 401, "INVALID_TOKEN")


# === GET /payouts/{id} ================================================================================


def test_owner_and_admin_read_a_payout(user, funded, user_client, admin_client):
    payout = request(user, "30.00")
    assert user_client.get(f"{PAYOUTS}/{payout.pk}").json() == as_json(payout)
    response = admin_client.get(f"{PAYOUTS}/{payout.pk}/")
    assert response.status_code == 200 and response.json() == as_json(payout)


def test_another_users_payout_is_404_exactly_like_an_unknown_one(user, funded, other_user):
    payout = request(user, "30.00")
    nosy = bearer_client(other_user)
    hidden = error_of(nosy.get(f"{PAYOUTS}/{payout.pk}"), 404, "NOT_FOUND")
    assert hidden["details"] == {"resource_type": "payout", "resource_id": str(payout.pk)}
    unknown_id = uuid.uuid4()
    unknown = error_of(nosy.get(f"{PAYOUTS}/{unknown_id}"), 404, "NOT_FOUND")
    assert unknown["details"] == {"resource_type": "payout", "resource_id": str(unknown_id)}
    assert hidden["message"].replace(str(payout.pk), "?") == unknown["message"].replace(str(unknown_id), "?")


def test_malformed_payout_id_is_404(user_client):
    error = error_of(user_client.get(f"{PAYOUTS}/not-a-uuid"), 404, "NOT_FOUND")
    assert error["details"]["resource_type"] == "payout"


def test_reading_a_payout_anonymously_is_401(api_client):
    error_of(api_client.get(f"{PAYOUTS}/{uuid.uuid4()}"), 401, "INVALID_TOKEN")


# === PATCH /payouts/{id}/status: allowed transitions (R-126, R-127) ====================================

ALLOWED = [(source, target) for source, targets in policies.ADMIN_TRANSITIONS.items() for target in targets]
TARGETS = [S.APPROVED, S.REJECTED, S.PROCESSING, S.PAID, S.FAILED]


def patch(client, payout_id, body):
    return client.patch(f"{PAYOUTS}/{payout_id}/status", body, format="json")


def test_the_allowed_transitions_are_the_seven_of_r126():
    assert sorted(ALLOWED) == sorted([
        (S.REQUESTED, S.APPROVED), (S.REQUESTED, S.REJECTED), (S.APPROVED, S.PROCESSING), (S.APPROVED, S.PAID),
        (S.APPROVED, S.REJECTED), (S.PROCESSING, S.PAID), (S.PROCESSING, S.FAILED)])


@pytest.mark.parametrize("source, target", ALLOWED)
def test_every_allowed_transition_applies_its_effects(user, admin_user, admin_client, source, target):
    payout = payout_in(source, user=user, admin=admin_user, amount="30.00")
    before = balances(user)
    entries_before = LedgerEntry.objects.count()
    body = {"status": target}
    if target == S.PAID:
        body["external_reference"] = "BANK-REF-1"
    if target in (S.REJECTED, S.FAILED):
        body["reason"] = "Account closed"

    response = patch(admin_client, payout.pk, body)

    assert response.status_code == 200, response.content
    assert response.json() == as_json(payout)
    assert payout.status == target
    new_entries = list(LedgerEntry.objects.filter(pk__gt=0).order_by("id")[entries_before:])
    if target == S.APPROVED:
        assert payout.approved_at is not None and payout.approved_by_id == admin_user.pk
        assert response.json()["approved_at"] == payout.approved_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if target == S.PROCESSING:
        assert payout.processing_started_at is not None and payout.processed_at is None
    if target in (S.APPROVED, S.PROCESSING):
        assert new_entries == [] and balances(user) == before
    if target == S.PAID:
        assert payout.processed_at is not None and payout.external_reference == "BANK-REF-1"
        assert balances(user) == {**before, "paid": before["paid"] + D("30.00")}
        assert [(e.balance, e.amount, e.reason, e.payout_id) for e in new_entries] == [
            (BalanceName.PAID, D("30.00"), LedgerReason.PAYOUT_PAID, payout.pk)]
    if target in (S.REJECTED, S.FAILED):
        assert payout.processed_at is not None and payout.status_reason == "Account closed"
        assert balances(user) == {**before, "available": before["available"] + D("30.00")}
        assert [(e.balance, e.amount, e.reason, e.payout_id) for e in new_entries] == [
            (BalanceName.AVAILABLE, D("30.00"), LedgerReason.PAYOUT_RETURNED, payout.pk)]
    assert all((e.actor_type, e.actor_id) == (ActorType.ADMIN, admin_user.pk) for e in new_entries)
    audit = AuditLog.objects.get(resource_id=str(payout.pk), action=f"PAYOUT_{target.upper()}")
    assert (audit.actor_type, audit.actor_id, audit.outcome) == (ActorType.ADMIN, admin_user.pk, Outcome.SUCCESS)
    assert (audit.details["from"], audit.details["to"], audit.details["amount"]) == (source, target, "30.00")
    assert_ledger_reconciles()


@pytest.mark.parametrize("source, target", [(S.APPROVED, S.REJECTED), (S.PROCESSING, S.FAILED)])
def test_money_coming_back_pays_down_clawback_first(user, admin_user, admin_client, source, target):
    # x = 100; clawback 70 is settled, only 30 reaches available.
    first, _second = give_available(user, "130.00")
    payout = move(request(user, "100.00"), source, admin=admin_user)
    purchase_services.reverse_purchase(purchase_id=first.pk, reason="chargeback", actor=Actor.system())
    assert (balances(user)["available"], balances(user)["clawback"]) == (D("0.00"), D("70.00"))

    response = patch(admin_client, payout.pk, {"status": target, "reason": "returned by bank"})

    assert response.status_code == 200, response.content
    assert (balances(user)["available"], balances(user)["clawback"]) == (D("30.00"), D("0.00"))
    entries = [(e.balance, e.amount, e.reason) for e in LedgerEntry.objects.filter(payout=payout).order_by("id")]
    assert entries == [
        (BalanceName.AVAILABLE, D("-100.00"), LedgerReason.PAYOUT_REQUESTED),
        (BalanceName.CLAWBACK, D("-70.00"), LedgerReason.CLAWBACK_SETTLED),
        (BalanceName.AVAILABLE, D("30.00"), LedgerReason.PAYOUT_RETURNED),
    ]
    assert_ledger_reconciles()


def test_a_return_fully_absorbed_by_clawback_writes_no_zero_entry(user, admin_user, admin_client):
    # s = x ⇒ no `available +0.00` entry.
    [purchase] = give_available(user, "100.00")
    payout = request(user, "100.00")
    purchase_services.reverse_purchase(purchase_id=purchase.pk, reason=None, actor=Actor.system())

    assert patch(admin_client, payout.pk, {"status": "rejected", "reason": "x"}).status_code == 200

    assert [e.reason for e in LedgerEntry.objects.filter(payout=payout).order_by("id")] == [
        LedgerReason.PAYOUT_REQUESTED, LedgerReason.CLAWBACK_SETTLED]
    assert balances(user) == {"pending": D("0.00"), "available": D("0.00"), "paid": D("0.00"),
                              "clawback": D("0.00")}
    assert_ledger_reconciles()


def test_paid_without_an_external_reference_keeps_it_null(user, admin_user, admin_client):
    payout = payout_in(S.APPROVED, user=user, admin=admin_user)
    response = patch(admin_client, payout.pk, {"status": "paid"})
    assert response.status_code == 200 and response.json()["external_reference"] is None


def test_the_full_happy_path_through_the_api(user, admin_client, funded, user_client):
    payout_id = post(user_client, {"amount": "40.00"}).json()["id"]
    for status in ("approved", "processing", "paid"):
        assert patch(admin_client, payout_id, {"status": status}).json()["status"] == status
    assert balances(user) == {"pending": D("0.00"), "available": D("60.00"), "paid": D("40.00"),
                              "clawback": D("0.00")}
    body = user_client.get(f"{PAYOUTS}/{payout_id}").json()
    assert all(body[f] for f in ("approved_at", "processing_started_at", "processed_at"))
    assert_ledger_reconciles()


# === PATCH: the same status again is a no-op (R-126, R-200) ===========================================


@pytest.mark.parametrize("status", [S.APPROVED, S.PROCESSING, S.PAID, S.FAILED, S.REJECTED])
def test_the_current_status_again_is_200_and_changes_nothing(user, admin_user, admin_client, status):
    payout = payout_in(status, user=user, admin=admin_user)
    shown = as_json(payout)
    before = written_state()
    body = {"status": status}
    if status in (S.FAILED, S.REJECTED):
        body["reason"] = "a different reason"
    if status == S.PAID:
        body["external_reference"] = "ANOTHER-REF"

    response = patch(admin_client, payout.pk, body)

    assert response.status_code == 200
    assert response.json() == shown
    assert written_state() == before  # no audit row, no ledger entry, no updated_at change


# === PATCH: forbidden transitions (400 PAYOUT_INVALID_TRANSITION) ====================================

FORBIDDEN = [(source, target) for source in S for target in TARGETS
             if target != source and target not in policies.ADMIN_TRANSITIONS[source]]


def test_there_are_eighteen_forbidden_transitions():
    assert len(FORBIDDEN) == 18


@pytest.mark.parametrize("source, target", FORBIDDEN)
def test_every_forbidden_transition_is_400_and_changes_nothing(user, admin_user, admin_client, source, target):
    payout = payout_in(source, user=user, admin=admin_user)
    before = written_state()

    error = error_of(patch(admin_client, payout.pk, {"status": target}), 400, "PAYOUT_INVALID_TRANSITION")

    assert error["details"] == {
        "payout_id": str(payout.pk), "current_status": source, "requested_status": target,
        "allowed_statuses": sorted(policies.ADMIN_TRANSITIONS[source]),
    }
    assert written_state() == before  # an API refusal writes no audit row either


@pytest.mark.parametrize("source", [S.PAID, S.FAILED, S.REJECTED])
def test_final_statuses_list_no_allowed_status(user, admin_user, admin_client, source):
    payout = payout_in(source, user=user, admin=admin_user)
    error = error_of(patch(admin_client, payout.pk, {"status": "approved"}), 400, "PAYOUT_INVALID_TRANSITION")
    assert error["details"]["allowed_statuses"] == []


# === PATCH: validation, existence, roles ==============================================================


@pytest.fixture
def requested_payout(user, funded):
    return request(user, "30.00")


@pytest.mark.parametrize("status", ["approved", "rejected", "processing", "failed"])
def test_external_reference_with_a_status_other_than_paid_is_400(admin_client, requested_payout, status):
    before = written_state()
    response = patch(admin_client, requested_payout.pk, {"status": status, "external_reference": "REF"})
    assert violation_fields(response) == ["external_reference"]
    assert written_state() == before


def test_reason_longer_than_500_is_400(admin_client, requested_payout):
    before = written_state()
    assert violation_fields(patch(admin_client, requested_payout.pk, {"status": "rejected", "reason": "r" * 501})) == [
        "reason"]
    assert written_state() == before


def test_a_500_character_reason_is_stored(admin_client, requested_payout):
    response = patch(admin_client, requested_payout.pk, {"status": "rejected", "reason": "r" * 500})
    assert response.status_code == 200 and response.json()["status_reason"] == "r" * 500


def test_external_reference_longer_than_255_is_400(admin_user, admin_client, user):
    payout = payout_in(S.APPROVED, user=user, admin=admin_user)
    response = patch(admin_client, payout.pk, {"status": "paid", "external_reference": "x" * 256})
    assert violation_fields(response) == ["external_reference"]


@pytest.mark.parametrize("body", [
    {"status": "requested"}, {"status": "pending"}, {"status": "cancelled"}, {"status": "APPROVED"}, {"status": ""},
    {"status": None}, {"status": 5}, {}, {"reason": "no status"},
])
def test_a_bad_status_value_is_400_on_field_status(admin_client, requested_payout, body):
    before = written_state()
    assert violation_fields(patch(admin_client, requested_payout.pk, body)) == ["status"]
    assert written_state() == before


@pytest.mark.parametrize("body, field", [({"status": "rejected", "reason": 5}, "reason"),
                                         ({"status": "paid", "external_reference": 5}, "external_reference")])
def test_non_string_reason_or_reference_is_400(admin_client, requested_payout, body, field):
    assert violation_fields(patch(admin_client, requested_payout.pk, body)) == [field]


@pytest.mark.parametrize("path_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_unknown_or_malformed_payout_is_404_after_validation(admin_client, path_id):
    error = error_of(patch(admin_client, path_id, {"status": "approved"}), 404, "NOT_FOUND")
    assert error["details"] == {"resource_type": "payout", "resource_id": path_id}
    assert violation_fields(patch(admin_client, path_id, {"status": "nope"})) == ["status"]  # 400 before 404


def test_patch_by_a_user_even_the_owner_is_403(user_client, requested_payout):
    before = written_state()
    error = error_of(patch(user_client, requested_payout.pk, {"status": "approved"}), 403, "FORBIDDEN")
    assert error["details"] == {"required_role": "admin", "current_role": "user"}
    assert written_state() == before


def test_patch_anonymous_is_401(api_client, requested_payout):
    error_of(patch(api_client, requested_payout.pk, {"status": "approved"}), 401, "INVALID_TOKEN")


def test_payouts_of_a_deactivated_user_continue_their_lifecycle(user, admin_user, admin_client):
    # in-flight payouts of an inactive account can still be approved, paid or returned.
    payout = payout_in(S.APPROVED, user=user, admin=admin_user)
    type(user).objects.filter(pk=user.pk).update(is_active=False)
    assert patch(admin_client, payout.pk, {"status": "paid"}).status_code == 200
    assert balances(user)["paid"] == D("30.00")


def test_status_route_with_a_trailing_slash_is_the_same_endpoint(admin_client, requested_payout):
    response = admin_client.patch(f"{PAYOUTS}/{requested_payout.pk}/status/", {"status": "approved"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "approved"


def test_an_admin_acting_on_their_own_payout_is_recorded_as_admin(admin_user, admin_client):
    give_available(admin_user, "50.00")
    payout = request(admin_user, "50.00")
    assert patch(admin_client, payout.pk, {"status": "approved"}).status_code == 200
    payout.refresh_from_db()
    assert payout.approved_by_id == admin_user.pk


# === Constant queries (no N+1) ========================================================================


def _bulk_payouts(user, count: int) -> None:
    """Read-only fixtures for the query counts: rows of every status, written directly."""
    statuses = list(S)
    base = utc_now()
    Payout.objects.bulk_create([
        Payout(user=user, amount=D("10.00"), status=statuses[i % len(statuses)],
               requested_at=base - dt.timedelta(minutes=i), details={"n": i},
               approved_by=user if i % 2 else None)
        for i in range(count)
    ])


def _queries(client, url) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, {"limit": "100"})
    assert response.status_code == 200, response.content
    return len(captured.captured_queries), len(response.json()["data"])


@pytest.mark.parametrize("url", [PAYOUTS, ME])
def test_listing_costs_the_same_queries_for_1_or_50_payouts(admin_user, django_assert_num_queries, url,
                                                            corrupts_ledger):
    client = bearer_client(admin_user)
    _bulk_payouts(admin_user, 1)
    one_row, rows = _queries(client, url)
    assert rows == 1

    _bulk_payouts(admin_user, 49)
    with django_assert_num_queries(one_row):
        response = client.get(url, {"limit": "100"})
    assert len(response.json()["data"]) == 50


def test_admin_list_with_the_last_representable_end_date_is_200_not_500(admin_client):
    # The inclusive end bound adds a day; 9999-12-31 has none (same rule as the purchases list).
    response = admin_client.get("/api/v1/payouts", {"end_date": "9999-12-31"})
    assert response.status_code == 200
    assert response.json()["pagination"]["total"] == 0
