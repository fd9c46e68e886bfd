"""Pure rules on merchant input (R-30, R-31, R-34)."""

import secrets
from decimal import Decimal

from django.conf import settings

NAME_MAX_LENGTH = 255


def percentage_problem(value: Decimal) -> str | None:
    """R-31: 0.00 ≤ p ≤ MAX_CASHBACK_PERCENTAGE, at most 2 decimals (R-1: rejected, never rounded)."""
    if value < 0 or value > settings.MAX_CASHBACK_PERCENTAGE:
        return f"Must be between 0.00 and {settings.MAX_CASHBACK_PERCENTAGE}."
    if value.as_tuple().exponent < -2:
        return "Must have at most 2 decimal places."
    return None


def new_webhook_secret() -> str:
    """R-34: `whsec_` + 64 lowercase hex characters (32 random bytes)."""
    return "whsec_" + secrets.token_hex(32)
