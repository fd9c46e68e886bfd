"""Pure rules on offer terms (R-41…R-43)."""

import datetime as dt
from decimal import Decimal

from django.conf import settings

from offers.models import CashbackType


def cashback_value_problem(cashback_type: str, value: Decimal) -> str | None:
    """R-41: percent 0 < v ≤ MAX_CASHBACK_PERCENTAGE; fixed 0 < v ≤ OFFER_MAX_FIXED_CASHBACK."""
    limit = (
        settings.MAX_CASHBACK_PERCENTAGE if cashback_type == CashbackType.PERCENT else settings.OFFER_MAX_FIXED_CASHBACK
    )
    if not Decimal("0") < value <= limit:
        return f"Must be greater than 0 and at most {limit} for a {cashback_type} offer."
    return None


def monthly_cap_problem(cap: Decimal) -> str | None:
    """R-42: 0 < cap ≤ OFFER_MAX_MONTHLY_CAP."""
    if not Decimal("0") < cap <= settings.OFFER_MAX_MONTHLY_CAP:
        return f"Must be greater than 0 and at most {settings.OFFER_MAX_MONTHLY_CAP}."
    return None


def window_problems(start: dt.date, end: dt.date, today: dt.date) -> dict[str, str]:
    """R-43: start ≥ today (UTC) and end ≥ start."""
    problems = {}
    if start < today:
        problems["start_date"] = f"Must be today ({today.isoformat()}) or later."
    if end < start:
        problems["end_date"] = "Must be on or after start_date."
    return problems
