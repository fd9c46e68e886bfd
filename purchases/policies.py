"""The cashback engine (R-80…R-87) and the purchase state rules (R-90, R-94) as pure functions."""

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal("100")


def raw_cashback(*, cashback_type: str, cashback_value: Decimal, amount: Decimal) -> Decimal:
    """R-80: percent → amount × value / 100; fixed → value."""
    if cashback_type == "percent":
        return amount * cashback_value / HUNDRED
    return cashback_value


def compute_cashback(*, cashback_type: str, cashback_value: Decimal, amount: Decimal,
                     monthly_cap: Decimal, earned_this_month: Decimal) -> Decimal:
    """R-81 round half-even to 0.01 (the only rounding, R-2) → R-82 never above the amount →
    R-83 never above what the monthly cap leaves."""
    rounded = raw_cashback(cashback_type=cashback_type, cashback_value=cashback_value, amount=amount).quantize(
        CENT, rounding=ROUND_HALF_EVEN
    )
    capped_by_amount = min(rounded, amount)
    remaining = max(ZERO, monthly_cap - earned_this_month)
    return min(capped_by_amount, remaining).quantize(CENT)


def month_bounds(moment: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """R-3: the UTC calendar month [1st 00:00, next 1st 00:00) containing `moment`."""
    moment = moment.astimezone(dt.UTC)
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return start, end
