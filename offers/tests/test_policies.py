"""Offer terms as pure functions (R-41…R-43): worked edges and hypothesis properties."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from offers.models import CashbackType
from offers.policies import cashback_value_problem, monthly_cap_problem, window_problems

D = Decimal
TODAY = dt.date(2026, 3, 15)

# Two-place amounts from -1.00 to 20000.00, as the API hands them over after parsing.
two_place_amounts = st.integers(min_value=-100, max_value=2_000_000).map(lambda cents: D(cents) / 100)


# --- cashback value -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cashback_type", "value", "ok"),
    [
        (CashbackType.PERCENT, "0.01", True),
        (CashbackType.PERCENT, "20.00", True),  # upper bound inclusive
        (CashbackType.PERCENT, "20.01", False),
        (CashbackType.PERCENT, "0.00", False),  # strictly greater than 0
        (CashbackType.PERCENT, "-1.00", False),
        (CashbackType.FIXED, "0.01", True),
        (CashbackType.FIXED, "20.01", True),  # the percent bound does not apply to fixed values
        (CashbackType.FIXED, "10000.00", True),
        (CashbackType.FIXED, "10000.01", False),
        (CashbackType.FIXED, "0.00", False),
    ],
)
def test_cashback_value_bounds_depend_on_the_type_r41(cashback_type, value, ok):
    problem = cashback_value_problem(cashback_type, D(value))

    assert (problem is None) is ok, problem
    if not ok:
        assert cashback_type in problem  # the reason tells the operator which bound applied


@given(value=two_place_amounts)
@example(value=D("20.00"))
@example(value=D("20.01"))
@example(value=D("0.00"))
def test_percent_value_is_accepted_exactly_inside_zero_exclusive_twenty_inclusive_r41(value):
    assert (cashback_value_problem(CashbackType.PERCENT, value) is None) == (D(0) < value <= D("20.00"))


@given(value=two_place_amounts)
@example(value=D("10000.00"))
@example(value=D("10000.01"))
def test_fixed_value_is_accepted_exactly_inside_zero_exclusive_ten_thousand_inclusive_r41(value):
    assert (cashback_value_problem(CashbackType.FIXED, value) is None) == (D(0) < value <= D("10000.00"))


def test_value_bounds_are_read_from_settings_at_call_time(settings):
    settings.MAX_CASHBACK_PERCENTAGE = D("10.00")
    settings.OFFER_MAX_FIXED_CASHBACK = D("50.00")

    assert cashback_value_problem(CashbackType.PERCENT, D("10.00")) is None
    assert cashback_value_problem(CashbackType.PERCENT, D("10.01")) is not None
    assert cashback_value_problem(CashbackType.FIXED, D("50.01")) is not None


# --- monthly cap ---------------------------------------------------------------------------


@pytest.mark.parametrize(("cap", "ok"), [("0.01", True), ("10000.00", True), ("10000.01", False), ("0.00", False),
                                         ("-5.00", False)])
def test_monthly_cap_bounds_r42(cap, ok):
    assert (monthly_cap_problem(D(cap)) is None) is ok


@given(cap=two_place_amounts)
def test_monthly_cap_is_accepted_exactly_inside_zero_exclusive_ten_thousand_inclusive_r42(cap):
    assert (monthly_cap_problem(cap) is None) == (D(0) < cap <= D("10000.00"))


def test_monthly_cap_bound_is_read_from_settings(settings):
    settings.OFFER_MAX_MONTHLY_CAP = D("100.00")

    assert monthly_cap_problem(D("100.00")) is None
    assert monthly_cap_problem(D("100.01")) is not None


# --- window --------------------------------------------------------------------------------


def test_window_starting_today_and_ending_today_is_a_valid_one_day_offer_r43():
    assert window_problems(TODAY, TODAY, TODAY) == {}


def test_window_starting_yesterday_names_start_date_r43():
    problems = window_problems(TODAY - dt.timedelta(days=1), TODAY + dt.timedelta(days=5), TODAY)

    assert set(problems) == {"start_date"}


def test_window_ending_before_it_starts_names_end_date_r43():
    problems = window_problems(TODAY + dt.timedelta(days=5), TODAY + dt.timedelta(days=4), TODAY)

    assert set(problems) == {"end_date"}


def test_window_in_the_past_and_inverted_reports_both_fields_r43():
    problems = window_problems(TODAY - dt.timedelta(days=1), TODAY - dt.timedelta(days=2), TODAY)

    assert set(problems) == {"start_date", "end_date"}


@given(start_offset=st.integers(-400, 400), length=st.integers(-400, 400))
def test_window_problems_name_exactly_the_broken_bounds_r43(start_offset, length):
    start = TODAY + dt.timedelta(days=start_offset)
    end = start + dt.timedelta(days=length)

    expected = set()
    if start < TODAY:
        expected.add("start_date")
    if end < start:
        expected.add("end_date")
    assert set(window_problems(start, end, TODAY)) == expected


# --- at most two decimals, finite ------------------------------------------------


@pytest.mark.parametrize("value", ["5.001", "0.005", "19.999", "NaN", "Infinity", "-Infinity"])
def test_cashback_value_with_more_than_two_decimals_or_not_finite_is_a_problem_never_rounded_r1(value):
    assert cashback_value_problem(CashbackType.PERCENT, D(value)) is not None
    assert cashback_value_problem(CashbackType.FIXED, D(value)) is not None


@pytest.mark.parametrize("cap", ["1.005", "9999.999", "NaN", "Infinity"])
def test_monthly_cap_with_more_than_two_decimals_or_not_finite_is_a_problem_r1(cap):
    assert monthly_cap_problem(D(cap)) is not None


@pytest.mark.parametrize("value", ["5", "5.0", "5.50", "1E+1"])
def test_fewer_than_two_decimals_are_fine(value):
    assert cashback_value_problem(CashbackType.PERCENT, D(value)) is None
    assert monthly_cap_problem(D(value)) is None


@given(cents=st.integers(min_value=1, max_value=2000), extra=st.integers(min_value=1, max_value=9))
def test_any_third_decimal_is_refused_inside_the_bounds_r1(cents, extra):
    value = D(cents) / 100 + D(extra) / 1000
    assert cashback_value_problem(CashbackType.PERCENT, value) is not None


# --- R-43 with a bound unknown (malformed input, reported by the parser) ----------------------------


def test_window_with_unknown_end_still_judges_the_start():
    assert set(window_problems(TODAY - dt.timedelta(days=1), None, TODAY)) == {"start_date"}


def test_window_with_unknown_start_cannot_judge_the_end():
    assert window_problems(None, TODAY - dt.timedelta(days=9), TODAY) == {}
