"""The payout Idempotency-Key (R-140…R-146) through the API: replays are byte-identical and write
nothing, reuse with another body is 409, refusals are not remembered, keys expire after the TTL."""

import datetime as dt
import json
from decimal import Decimal

import pytest

from accounts.tests.factories import UserFactory
from clicknback.audit.models import AuditAction, AuditLog
from clicknback.testing import error_of
from conftest import bearer_client
from payouts import services
from payouts.models import Payout, PayoutIdempotencyKey, PayoutStatus
from payouts.tests.factories import corrupts_ledger, ledger_reconciles_after_each_test  # noqa: F401 (fixtures)
from payouts.tests.factories import (
    ME,
    PAYOUTS,
    assert_ledger_reconciles,
    backdate,
    balances,
    give_available,
    hours_ago,
    move,
    request,
    utc_now,
    written_state,
)
from wallets.models import LedgerEntry, LedgerReason

# after every test of this module (a forged ledger is opted out with `corrupts_ledger`).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ledger_reconciles_after_each_test")]

D = Decimal
KEY = "payout-2026-03-05-0001"


@pytest.fixture
def funded(user):
    give_available(user, "100.00")
    return user


def post(client, body, *, key=KEY, url=ME):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(url, body, format="json", **headers)


def post_raw(client, text: str, *, key=KEY):
    return client.generic("POST", ME, text.encode(), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)


def payout_entries() -> int:
    return LedgerEntry.objects.filter(reason=LedgerReason.PAYOUT_REQUESTED).count()


def age_key(user, key: str, *, hours: float) -> None:
    PayoutIdempotencyKey.objects.filter(user=user, key=key).update(created_at=hours_ago(hours))


# --- same key, same body → the first answer again ------------------------------------------------


def test_a_retry_with_the_same_key_and_body_replays_the_first_answer_byte_for_byte(user, funded, user_client):
    first = post(user_client, {"amount": "30.00", "details": {"iban": "DE89"}})
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first
    after_first = written_state()

    second = post(user_client, {"amount": "30.00", "details": {"iban": "DE89"}})

    assert second.status_code == 201
    assert second.content == first.content
    assert second["Idempotent-Replayed"] == "true"
    assert second["Content-Type"] == "application/json"
    assert written_state() == after_first  # no payout, ledger entry, key row or audit row
    assert Payout.objects.count() == 1 and payout_entries() == 1
    assert AuditLog.objects.filter(action=AuditAction.PAYOUT_REQUESTED).count() == 1
    assert balances(user)["available"] == D("70.00")
    key = PayoutIdempotencyKey.objects.get()
    assert (key.user_id, key.key, str(key.payout_id), key.response_status) == (
        user.pk, KEY, first.json()["id"], 201)
    assert_ledger_reconciles()


def test_a_replay_is_never_checked_against_the_policy_or_balance(user, funded, user_client):
    # the 48 h rule (and the now smaller balance) cannot turn a retry into a 422/409.
    first = post(user_client, {"amount": "100.00"})
    assert balances(user)["available"] == D("0.00")
    again = post(user_client, {"amount": "100.00"})
    assert (again.status_code, again.content) == (201, first.content)


def test_the_replay_is_the_first_answer_even_after_the_payout_moved_on(user, admin_user, funded, user_client):
    first = post(user_client, {"amount": "30.00"})
    move(Payout.objects.get(), PayoutStatus.PAID, admin=admin_user)

    again = post(user_client, {"amount": "30.00"})

    assert again.content == first.content and again.json()["status"] == "requested"
    assert user_client.get(f"{PAYOUTS}/{first.json()['id']}").json()["status"] == "paid"


@pytest.mark.parametrize("first_body, retry_text", [
    ({"amount": "30.00"}, '{"amount": 30}'),  # "30.00" and 30 are the same money
    ({"amount": "30.00"}, '{"amount": "30", "method": "bank_transfer"}'),  # the default method made explicit
    ({"amount": "30.00"}, '{"amount": "30.00", "details": {}}'),  # the default details made explicit
    ({"amount": "30.00", "details": {"a": 1, "b": {"x": 1, "y": 2}}},
     '{"details": {"b": {"y": 2, "x": 1}, "a": 1}, "amount": 30.0}'),  # key order is not content
    ({"amount": "30.00"}, '{"amount": "30.00", "comment": "unknown fields are ignored"}'),
])
def test_the_same_request_written_differently_is_a_replay(funded, user_client, first_body, retry_text):
    # the fingerprint is taken over canonical JSON after defaults.
    first = post(user_client, first_body)
    again = post_raw(user_client, retry_text)
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert Payout.objects.count() == 1


def test_a_replay_through_the_alias_is_the_same_user_and_key(user, funded, user_client):
    first = post(user_client, {"amount": "30.00"})
    again = post(user_client, {"amount": "30.00"}, url=f"/api/v1/users/{user.pk}/payouts")
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"


# --- same key, different body → 409 -----------------------------------------------------------


@pytest.mark.parametrize("other_body", [
    {"amount": "30.01"},
    {"amount": "30.00", "method": "card"},
    {"amount": "30.00", "details": {"iban": "DE90"}},
    {"amount": "30.00", "details": {"iban": "DE89", "extra": 1}},
    {"amount": "30.00", "details": {"iban": ["DE89"]}},
])
def test_the_same_key_with_another_body_is_409_and_writes_nothing(funded, user_client, other_body):
    post(user_client, {"amount": "30.00", "details": {"iban": "DE89"}})
    before = written_state()

    error = error_of(post(user_client, other_body), 409, "IDEMPOTENCY_KEY_REUSED")

    assert error["details"] == {"idempotency_key": KEY}
    assert written_state() == before


def test_a_number_and_a_numeric_string_in_details_are_different_requests(funded, user_client):
    post_raw(user_client, '{"amount": "30.00", "details": {"n": 1.5}}')
    error_of(post_raw(user_client, '{"amount": "30.00", "details": {"n": "1.5"}}'), 409, "IDEMPOTENCY_KEY_REUSED")


def test_key_reuse_is_409_even_when_the_policy_would_also_refuse(funded, user_client):
    # the key is claimed first — a replay or 409 ends the request before the policy.
    post(user_client, {"amount": "30.00"})
    error_of(post(user_client, {"amount": "5.00"}), 409, "IDEMPOTENCY_KEY_REUSED")


# --- refused requests are not remembered --------------------------------------------------------


def test_a_request_refused_by_the_policy_stores_no_key_and_the_retry_is_evaluated_afresh(user, funded, user_client):
    before = written_state()
    assert post(user_client, {"amount": "9.99"}).status_code == 422
    assert written_state() == before
    assert not PayoutIdempotencyKey.objects.exists()

    fixed = post(user_client, {"amount": "10.00"})  # same key, corrected body: not a 409

    assert fixed.status_code == 201 and "Idempotent-Replayed" not in fixed
    assert PayoutIdempotencyKey.objects.get().payout_id == Payout.objects.get().pk


def test_a_request_refused_for_balance_stores_no_key_and_succeeds_once_funded(user, user_client):
    assert post(user_client, {"amount": "50.00"}).status_code == 409
    assert not PayoutIdempotencyKey.objects.exists()
    give_available(user, "50.00")

    retry = post(user_client, {"amount": "50.00"})

    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry
    assert balances(user)["available"] == D("0.00")
    assert_ledger_reconciles()


def test_a_request_with_a_validation_error_stores_no_key(funded, user_client):
    assert post(user_client, {"amount": "abc"}).status_code == 400
    assert not PayoutIdempotencyKey.objects.exists()
    assert post(user_client, {"amount": "20.00"}).status_code == 201


# --- the scope is (user, key) -------------------------------------------------------------------


def test_two_users_with_the_same_key_are_independent(user, funded, user_client):
    other = UserFactory()
    give_available(other, "100.00")

    mine = post(user_client, {"amount": "30.00"})
    theirs = post(bearer_client(other), {"amount": "30.00"})

    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs
    assert mine.json()["id"] != theirs.json()["id"]
    assert theirs.json()["user_id"] == str(other.pk)
    assert PayoutIdempotencyKey.objects.count() == 2
    assert balances(user)["available"] == balances(other)["available"] == D("70.00")
    assert_ledger_reconciles()


def test_keys_are_case_sensitive(funded, user_client, settings):
    settings.PAYOUT_MIN_INTERVAL_HOURS = 0
    post(user_client, {"amount": "30.00"}, key="Key-A")
    second = post(user_client, {"amount": "30.00"}, key="key-a")
    assert second.status_code == 201 and "Idempotent-Replayed" not in second
    assert Payout.objects.count() == 2


def test_requests_without_a_key_are_never_replayed(funded, user_client, settings):
    settings.PAYOUT_MIN_INTERVAL_HOURS = 0
    assert post(user_client, {"amount": "30.00"}, key=None).status_code == 201
    assert post(user_client, {"amount": "30.00"}, key=None).status_code == 201
    assert Payout.objects.count() == 2 and not PayoutIdempotencyKey.objects.exists()


# --- expiry ------------------------------------------------------------------------------


def test_a_key_older_than_the_ttl_is_processed_as_new(user, funded, user_client):
    first = post(user_client, {"amount": "30.00"})
    # The earlier payout is 49 h old (so the 48 h rule does not refuse) and its key 25 h old.
    backdate(Payout.objects.get(), requested_at=hours_ago(49))
    age_key(user, KEY, hours=25)

    second = post(user_client, {"amount": "30.00"})

    assert second.status_code == 201, second.content
    assert "Idempotent-Replayed" not in second
    assert second.json()["id"] != first.json()["id"]
    assert Payout.objects.count() == 2 and payout_entries() == 2
    assert balances(user)["available"] == D("40.00")
    key = PayoutIdempotencyKey.objects.get()  # the old row was replaced, not duplicated
    assert str(key.payout_id) == second.json()["id"]
    assert key.created_at > utc_now() - dt.timedelta(minutes=1)
    # …and the fresh key replays the second payout from now on.
    assert post(user_client, {"amount": "30.00"}).content == second.content
    assert_ledger_reconciles()


def test_an_expired_key_may_carry_a_different_body(user, funded, user_client):
    post(user_client, {"amount": "30.00"})
    backdate(Payout.objects.get(), requested_at=hours_ago(49))
    age_key(user, KEY, hours=25)
    assert post(user_client, {"amount": "40.00", "method": "card"}).status_code == 201


def test_a_key_within_the_ttl_is_still_live(user, funded, user_client):
    first = post(user_client, {"amount": "30.00"})
    backdate(Payout.objects.get(), requested_at=hours_ago(49))
    age_key(user, KEY, hours=23.5)
    again = post(user_client, {"amount": "30.00"})
    assert again["Idempotent-Replayed"] == "true" and again.content == first.content


def test_the_ttl_is_a_setting(user, funded, user_client, settings):
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 1
    post(user_client, {"amount": "30.00"})
    backdate(Payout.objects.get(), requested_at=hours_ago(49))
    age_key(user, KEY, hours=2)
    again = post(user_client, {"amount": "30.00"})
    assert again.status_code == 201 and "Idempotent-Replayed" not in again


def test_purge_deletes_only_expired_keys(user, settings):
    settings.PAYOUT_MIN_INTERVAL_HOURS = 0
    give_available(user, "100.00")
    for key in ("old-1", "old-2", "fresh"):
        request(user, "10.00", key=key)
    age_key(user, "old-1", hours=25)
    age_key(user, "old-2", hours=24.01)
    age_key(user, "fresh", hours=23.9)

    assert services.purge_expired_idempotency_keys() == 2

    assert list(PayoutIdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]
    assert Payout.objects.count() == 3  # the payouts themselves are never deleted
    assert services.purge_expired_idempotency_keys() == 0


def test_the_stored_response_is_the_exact_json_text_sent(user, funded, user_client):
    first = post(user_client, {"amount": "30.00", "details": {"name": "Zoë"}})
    stored = PayoutIdempotencyKey.objects.get()
    assert stored.response_body.encode() == first.content
    assert json.loads(stored.response_body)["details"] == {"name": "Zoë"}
