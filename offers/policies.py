"""Pure rules on offer terms (R-41…R-43)."""

import datetime as dt
from decimal import Decimal

from django.conf import settings

from offers.models import CashbackType


def _amount_problem(value: Decimal) -> str | None:
    """R-1: a finite amount with at most 2 decimals — a third one is refused, never rounded."""
    if not value.is_finite():
        return "Must be a finite number."
    if value.as_tuple().exponent < -2:
        return "Must have at most 2 decimal places."
    return None


def cashback_value_problem(cashback_type: str, value: Decimal) -> str | None:
    """R-41: percent 0 < v ≤ MAX_CASHBACK_PERCENTAGE; fixed 0 < v ≤ OFFER_MAX_FIXED_CASHBACK; 2 decimals."""
    if problem := _amount_problem(value):
        return problem
    limit = (
        settings.MAX_CASHBACK_PERCENTAGE if cashback_type == CashbackType.PERCENT else settings.OFFER_MAX_FIXED_CASHBACK
    )
    if not Decimal("0") < value <= limit:
        return f"Must be greater than 0 and at most {limit} for a {cashback_type} offer."
    return None


def monthly_cap_problem(cap: Decimal) -> str | None:
    """R-42: 0 < cap ≤ OFFER_MAX_MONTHLY_CAP; 2 decimals."""
    if problem := _amount_problem(cap):
        return problem
    if not Decimal("0") < cap <= settings.OFFER_MAX_MONTHLY_CAP:
        return f"Must be greater than 0 and at most {settings.OFFER_MAX_MONTHLY_CAP}."
    return None


def window_problems(start: dt.date | None, end: dt.date | None, today: dt.date) -> dict[str, str]:
    """R-43: start ≥ today (UTC) and end ≥ start. A bound given as None (missing or malformed,
    reported elsewhere) is not judged, so the other one still is."""
    problems = {}
    if start is not None and start < today:
        problems["start_date"] = f"Must be today ({today.isoformat()}) or later."
    if start is not None and end is not None and end < start:
        problems["end_date"] = "Must be on or after start_date."
    return problems
