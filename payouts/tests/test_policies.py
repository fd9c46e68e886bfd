"""Pure payout rules: the ISO week of R-3/R-124, the policy of R-122…R-124 (R-128: every failure
reported together), the request fingerprint of R-143 and the admin transitions of R-126."""

import datetime as dt
import hashlib
import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payouts import policies
from payouts.models import PayoutStatus

D = Decimal
UTC = dt.UTC
S = PayoutStatus

# --- week_start (R-3: ISO week in UTC, [Monday 00:00, next Monday 00:00)) -----------------------------


@pytest.mark.parametrize("moment, monday", [
    (dt.datetime(2026, 3, 2, 0, 0, tzinfo=UTC), dt.datetime(2026, 3, 2, tzinfo=UTC)),  # Monday 00:00 itself
    (dt.datetime(2026, 3, 4, 15, 30, 12, 5, tzinfo=UTC), dt.datetime(2026, 3, 2, tzinfo=UTC)),  # Wednesday
    (dt.datetime(2026, 3, 8, 23, 59, 59, 999999, tzinfo=UTC), dt.datetime(2026, 3, 2, tzinfo=UTC)),  # Sunday 23:59
    (dt.datetime(2026, 3, 9, 0, 0, tzinfo=UTC), dt.datetime(2026, 3, 9, tzinfo=UTC)),  # next Monday: a new week
    (dt.datetime(2027, 1, 1, 12, 0, tzinfo=UTC), dt.datetime(2026, 12, 28, tzinfo=UTC)),  # ISO week across a new year
])
def test_week_starts_on_monday_midnight_utc(moment, monday):
    assert policies.week_start(moment) == monday


def test_week_start_of_a_moment_given_in_another_time_zone_is_the_utc_monday():
    # 2026-03-09 00:30 at UTC+2 is Sunday 2026-03-08 22:30 UTC: still the week of Monday 2 March.
    plus_two = dt.timezone(dt.timedelta(hours=2))
    start = policies.week_start(dt.datetime(2026, 3, 9, 0, 30, tzinfo=plus_two))
    assert start == dt.datetime(2026, 3, 2, tzinfo=UTC)
    assert start.utcoffset() == dt.timedelta(0)


@given(st.datetimes(min_value=dt.datetime(2000, 1, 3), max_value=dt.datetime(2100, 1, 1), timezones=st.just(UTC)))
def test_week_start_is_the_monday_of_the_same_iso_week(moment):
    start = policies.week_start(moment)
    assert start.weekday() == 0 and start.time() == dt.time(0) and start.utcoffset() == dt.timedelta(0)
    assert start <= moment < start + dt.timedelta(days=7)
    assert start.isocalendar()[:2] == moment.isocalendar()[:2]


# --- policy_violations (R-122, R-123, R-124, R-128) ----------------------------------------------------

NOW = dt.datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
RULES = {"min_amount": D("10.00"), "min_interval": dt.timedelta(hours=48), "weekly_limit": D("200.00")}


def violations(amount="50.00", *, last=None, week_total="0.00"):
    return policies.policy_violations(amount=D(amount), now=NOW, last_requested_at=last, week_total=D(week_total),
                                      **RULES)


def rules_of(found) -> list[str]:
    return [v["rule"] for v in found]


def test_a_payout_within_every_rule_has_no_violation():
    assert violations("50.00", last=NOW - dt.timedelta(hours=72), week_total="100.00") == []


def test_first_payout_ever_has_no_interval_problem():
    assert violations("10.00", last=None) == []


@pytest.mark.parametrize("amount, failed", [("9.99", True), ("0.01", True), ("10.00", False), ("10.01", False)])
def test_min_amount_is_inclusive_at_ten(amount, failed):
    # amount ≥ PAYOUT_MIN_AMOUNT.
    assert rules_of(violations(amount)) == (["min_amount"] if failed else [])


@pytest.mark.parametrize("age, failed", [
    (dt.timedelta(hours=47, minutes=59, seconds=59), True),
    (dt.timedelta(0), True),
    (dt.timedelta(hours=48), False),  # exactly 48 h ago: requested_at ≤ now − 48 h
    (dt.timedelta(hours=48, microseconds=1), False),
])
def test_min_interval_needs_48_hours_since_the_last_counted_payout(age, failed):
    #
    assert rules_of(violations(last=NOW - age)) == (["min_interval"] if failed else [])


def test_min_interval_reason_names_the_hours_and_the_next_possible_time():
    found = violations(last=NOW - dt.timedelta(hours=1))
    assert "48 hours" in found[0]["reason"]
    assert "2026-03-07T11:00:00.000000Z" in found[0]["reason"]


@pytest.mark.parametrize("week_total, amount, failed", [
    ("150.00", "50.00", False),  # exactly the limit is allowed
    ("150.00", "50.01", True),
    ("0.00", "200.01", True),
    ("0.00", "200.00", False),
    ("190.00", "10.00", False),
])
def test_weekly_limit_counts_the_new_amount(week_total, amount, failed):
    # week total + new amount ≤ PAYOUT_WEEKLY_LIMIT.
    assert rules_of(violations(amount, week_total=week_total)) == (["weekly_limit"] if failed else [])


def test_every_failed_rule_is_reported_together_in_rule_order():
    # one answer listing every failed rule so a client fixes them in one go.
    found = violations("5.00", last=NOW - dt.timedelta(hours=1), week_total="199.00")
    assert rules_of(found) == ["min_amount", "min_interval", "weekly_limit"]
    assert all(set(v) == {"rule", "reason"} and v["reason"] for v in found)


def test_rules_follow_the_limits_they_are_given():
    found = policies.policy_violations(amount=D("20.00"), now=NOW, last_requested_at=NOW - dt.timedelta(hours=2),
                                       week_total=D("0.00"), min_amount=D("25.00"),
                                       min_interval=dt.timedelta(hours=1), weekly_limit=D("19.99"))
    assert rules_of(found) == ["min_amount", "weekly_limit"]


# --- request_fingerprint (R-143) -----------------------------------------------------------------------


def fp(amount="30.00", method="bank_transfer", details=None):
    return policies.request_fingerprint(amount=D(amount), method=method, details={} if details is None else details)


def test_fingerprint_is_sha256_of_the_canonical_json():
    canonical = json.dumps({"amount": "30.00", "details": {"a": 1, "b": "x"}, "method": "card"},
                           sort_keys=True, separators=(",", ":"))
    expected = hashlib.sha256(canonical.encode()).hexdigest()
    assert fp("30", "card", {"b": "x", "a": 1}) == expected
    assert len(expected) == 64


def test_fingerprint_ignores_the_key_order_of_details_at_every_depth():
    first = {"iban": "DE89", "holder": {"first": "Ana", "last": "Lopez"}, "tags": ["a", "b"]}
    second = {"tags": ["a", "b"], "holder": {"last": "Lopez", "first": "Ana"}, "iban": "DE89"}
    assert fp(details=first) == fp(details=second)


@pytest.mark.parametrize("same", ["10", "10.0", "10.00"])
def test_fingerprint_compares_amounts_as_two_decimal_money(same):
    assert fp(same) == fp("10.00")


@pytest.mark.parametrize("first, second", [
    ({"amount": "10.00"}, {"amount": "10.01"}),
    ({"method": "bank_transfer"}, {"method": "card"}),
    ({"details": {}}, {"details": {"iban": "DE89"}}),
    ({"details": {"iban": "DE89"}}, {"details": {"iban": "DE90"}}),
    ({"details": {"tags": ["a", "b"]}}, {"details": {"tags": ["b", "a"]}}),  # list order is content
    ({"details": {"n": 1}}, {"details": {"n": "1"}}),  # the string "1" is not the number 1
])
def test_fingerprint_differs_when_the_request_differs(first, second):
    assert fp(**first) != fp(**second)


# --- admin transitions ----------------------------------------------------------------------------

R126 = {
    S.REQUESTED: {S.APPROVED, S.REJECTED},
    S.APPROVED: {S.PROCESSING, S.PAID, S.REJECTED},
    S.PROCESSING: {S.PAID, S.FAILED},
    S.PAID: set(),
    S.FAILED: set(),
    S.REJECTED: set(),
}


def test_admin_transitions_are_exactly_the_r126_table():
    assert {source: set(targets) for source, targets in policies.ADMIN_TRANSITIONS.items()} == R126


@pytest.mark.parametrize("source", list(S))
def test_allowed_targets_are_sorted_and_exclude_the_current_status(source):
    targets = policies.allowed_targets(source)
    assert targets == sorted(R126[source])
    assert source not in targets


def test_final_statuses_allow_nothing():
    assert [policies.allowed_targets(s) for s in (S.PAID, S.FAILED, S.REJECTED)] == [[], [], []]
