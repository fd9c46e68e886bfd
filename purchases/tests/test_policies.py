"""The cashback engine (R-80…R-87) and the UTC month (R-3) as pure functions: the worked examples
of rules.md §7 and hypothesis properties against an independent exact-fraction oracle."""

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from purchases.policies import compute_cashback, month_bounds, raw_cashback

D = Decimal
CENT = D("0.01")

# --- R-83 worked examples (cap 100.00 and nothing earned unless stated) ------------------------

WORKED_EXAMPLES = [
    # (type, value, cap, amount, earned, raw, result)
    ("percent", "5.00", "100.00", "100.00", "0.00", "5.00", "5.00"),
    ("percent", "5.00", "6.00", "100.00", "3.00", "5.00", "3.00"),  # cap
    ("percent", "5.00", "6.00", "100.00", "6.00", "5.00", "0.00"),
    ("percent", "10.00", "100.00", "33.33", "0.00", "3.333", "3.33"),
    ("percent", "5.00", "100.00", "10.10", "0.00", "0.505", "0.50"),  # half-even; half-up gives 0.51
    ("percent", "5.00", "100.00", "10.30", "0.00", "0.515", "0.52"),
    ("percent", "5.00", "100.00", "2.50", "0.00", "0.125", "0.12"),
    ("percent", "7.50", "100.00", "19.99", "0.00", "1.49925", "1.50"),
    ("percent", "2.50", "100.00", "0.10", "0.00", "0.0025", "0.00"),
    ("fixed", "3.00", "100.00", "1.50", "0.00", "3.00", "1.50"),
    ("fixed", "3.00", "100.00", "50.00", "99.00", "3.00", "1.00"),  # cap
]


@pytest.mark.parametrize(
    "cashback_type, value, cap, amount, earned, raw, expected", WORKED_EXAMPLES,
    ids=[f"{r[0]}-{r[1]}-cap{r[2]}-amount{r[3]}-earned{r[4]}" for r in WORKED_EXAMPLES],
)
def test_worked_examples_of_r83_table(cashback_type, value, cap, amount, earned, raw, expected):
    assert raw_cashback(cashback_type=cashback_type, cashback_value=D(value), amount=D(amount)) == D(raw)
    result = compute_cashback(cashback_type=cashback_type, cashback_value=D(value), amount=D(amount),
                              monthly_cap=D(cap), earned_this_month=D(earned))
    assert result == D(expected)
    assert str(result) == expected  # exactly two decimals, as it is stored and printed


def test_earned_above_the_cap_gives_zero_never_negative():
    # remaining = max(0.00, cap − earned).
    result = compute_cashback(cashback_type="percent", cashback_value=D("5.00"), amount=D("100.00"),
                              monthly_cap=D("6.00"), earned_this_month=D("9.00"))
    assert result == D("0.00")
    assert str(result) == "0.00"


# --- Hypothesis properties -----------------------------------------------------------------------

amounts = st.decimals(min_value=D("0.01"), max_value=D("1000000.00"), places=2)
percent_values = st.decimals(min_value=D("0.01"), max_value=D("20.00"), places=2)
fixed_values = st.decimals(min_value=D("0.01"), max_value=D("10000.00"), places=2)
caps = st.decimals(min_value=D("0.01"), max_value=D("10000.00"), places=2)
offers = st.one_of(
    st.tuples(st.just("percent"), percent_values),
    st.tuples(st.just("fixed"), fixed_values),
)


def half_even_cents(value: Fraction) -> Decimal:
    """Independent oracle for R-81: exact rational value rounded half-to-even to whole cents."""
    cents = value * 100
    floor = cents.numerator // cents.denominator
    rest = cents - floor
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2 == 1):
        floor += 1
    return (D(floor) / 100).quantize(CENT)


def exact_raw(cashback_type: str, value: Decimal, amount: Decimal) -> Fraction:
    return Fraction(amount) * Fraction(value) / 100 if cashback_type == "percent" else Fraction(value)


@settings(max_examples=400, deadline=None)
@given(offer=offers, amount=amounts, cap=caps,
       earned=st.decimals(min_value=D("0.00"), max_value=D("20000.00"), places=2))
@example(offer=("percent", D("5.00")), amount=D("10.10"), cap=D("100.00"), earned=D("0.00"))
@example(offer=("fixed", D("3.00")), amount=D("0.01"), cap=D("100.00"), earned=D("0.00"))
def test_cashback_is_bounded_non_negative_and_has_exactly_two_decimals(offer, amount, cap, earned):
    cashback_type, value = offer
    result = compute_cashback(cashback_type=cashback_type, cashback_value=value, amount=amount,
                              monthly_cap=cap, earned_this_month=earned)
    assert result.as_tuple().exponent == -2  # two decimals, never more, never fewer
    assert result >= D("0.00")
    assert result <= amount
    assert result <= max(D("0.00"), cap - earned)
    # It is always the smallest of the three candidates (R-87: no other limits).
    assert result == min(half_even_cents(exact_raw(cashback_type, value, amount)), amount, max(D("0"), cap - earned))


@settings(max_examples=400, deadline=None)
@given(offer=offers, amount=amounts)
@example(offer=("percent", D("5.00")), amount=D("2.50"))  # 0.125 → 0.12
@example(offer=("percent", D("5.00")), amount=D("10.30"))  # 0.515 → 0.52
def test_cashback_equals_half_even_rounding_of_raw_when_no_limit_binds(offer, amount):
    cashback_type, value = offer
    expected = half_even_cents(exact_raw(cashback_type, value, amount))
    assume(expected <= amount)  # R-82 does not bind
    unlimited_cap = D("100000000.00")  # R-83 does not bind
    result = compute_cashback(cashback_type=cashback_type, cashback_value=value, amount=amount,
                              monthly_cap=unlimited_cap, earned_this_month=D("0.00"))
    assert result == expected
    assert result == (amount * value / 100 if cashback_type == "percent" else value).quantize(
        CENT, rounding=ROUND_HALF_EVEN
    )


@settings(max_examples=300, deadline=None)
@given(offer=offers, cap=caps, purchases=st.lists(amounts, min_size=1, max_size=40))
def test_a_month_of_purchases_never_earns_more_than_the_cap(offer, cap, purchases):
    """R-83: fed one after another with a running `earned`, the total never exceeds the cap, and
    it reaches the cap exactly once the purchases' own cashback would pass it."""
    cashback_type, value = offer
    earned = D("0.00")
    uncapped_total = D("0.00")
    for amount in purchases:
        cashback = compute_cashback(cashback_type=cashback_type, cashback_value=value, amount=amount,
                                    monthly_cap=cap, earned_this_month=earned)
        assert D("0.00") <= cashback
        earned += cashback
        assert earned <= cap
        uncapped_total += min(half_even_cents(exact_raw(cashback_type, value, amount)), amount)
    assert earned == min(cap, uncapped_total)


# --- the UTC calendar month ----------------------------------------------------------------

UTC = dt.UTC


def test_month_bounds_of_december_end_on_the_first_of_january_next_year():
    start, end = month_bounds(dt.datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
    assert start == dt.datetime(2025, 12, 1, tzinfo=UTC)
    assert end == dt.datetime(2026, 1, 1, tzinfo=UTC)


def test_month_bounds_of_january_start_on_the_first_of_january():
    start, end = month_bounds(dt.datetime(2026, 1, 1, 0, 0, tzinfo=UTC))  # the start is inclusive
    assert (start, end) == (dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2026, 2, 1, tzinfo=UTC))


def test_month_bounds_use_the_utc_month_of_a_moment_given_in_another_timezone():
    plus_two = dt.timezone(dt.timedelta(hours=2))
    # 1 March 00:30 at UTC+2 is still 28 February 22:30 UTC.
    start, end = month_bounds(dt.datetime(2026, 3, 1, 0, 30, tzinfo=plus_two))
    assert (start, end) == (dt.datetime(2026, 2, 1, tzinfo=UTC), dt.datetime(2026, 3, 1, tzinfo=UTC))
    assert start.utcoffset() == dt.timedelta(0) and end.utcoffset() == dt.timedelta(0)

    minus_five = dt.timezone(dt.timedelta(hours=-5))
    # 31 December 2025 20:00 at UTC−5 is already 1 January 2026 01:00 UTC.
    start, end = month_bounds(dt.datetime(2025, 12, 31, 20, 0, tzinfo=minus_five))
    assert (start, end) == (dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2026, 2, 1, tzinfo=UTC))


@settings(max_examples=200, deadline=None)
@given(moment=st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 12, 31),
                           timezones=st.sampled_from([UTC, dt.timezone(dt.timedelta(hours=14)),
                                                      dt.timezone(dt.timedelta(hours=-12))])))
def test_month_bounds_contain_the_moment_and_span_one_utc_calendar_month(moment):
    start, end = month_bounds(moment)
    assert start <= moment < end
    assert start.utcoffset() == dt.timedelta(0)
    assert (start.day, start.hour, start.minute, start.second, start.microsecond) == (1, 0, 0, 0, 0)
    assert (end.day, end.hour, end.minute, end.second, end.microsecond) == (1, 0, 0, 0, 0)
    assert 28 <= (end - start).days <= 31
