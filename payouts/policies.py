"""Pure payout rules: the policy of R-122…R-124, the fingerprint of R-143, the transitions of R-126."""

import hashlib
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from payouts.models import PayoutStatus

# what an admin may move a payout to, from each status (the job also does approved → processing).
ADMIN_TRANSITIONS = {
    PayoutStatus.REQUESTED: [PayoutStatus.APPROVED, PayoutStatus.REJECTED],
    PayoutStatus.APPROVED: [PayoutStatus.PROCESSING, PayoutStatus.PAID, PayoutStatus.REJECTED],
    PayoutStatus.PROCESSING: [PayoutStatus.PAID, PayoutStatus.FAILED],
    PayoutStatus.PAID: [],
    PayoutStatus.FAILED: [],
    PayoutStatus.REJECTED: [],
}


def allowed_targets(current: str) -> list[str]:
    return sorted(ADMIN_TRANSITIONS[current])


def week_start(moment: datetime) -> datetime:
    """R-3: the ISO week in UTC starts Monday 00:00 (an aware moment in another zone is read in UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    day_start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return day_start - timedelta(days=day_start.weekday())


def policy_violations(*, amount: Decimal, now: datetime, last_requested_at: datetime | None,
                      week_total: Decimal, min_amount: Decimal, min_interval: timedelta,
                      weekly_limit: Decimal) -> list[dict]:
    """Every failed rule of R-122…R-124 (R-128: reported together)."""
    problems = []
    if amount < min_amount:
        problems.append({"rule": "min_amount", "reason": f"The minimum payout is {min_amount} EUR."})
    if last_requested_at is not None and last_requested_at > now - min_interval:
        hours = int(min_interval.total_seconds() // 3600)
        next_allowed = (last_requested_at + min_interval).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        problems.append({"rule": "min_interval",
                         "reason": f"Payouts must be at least {hours} hours apart; next possible at {next_allowed}."})
    if week_total + amount > weekly_limit:
        problems.append({"rule": "weekly_limit",
                         "reason": f"Payouts this week would total {week_total + amount} EUR; the limit is {weekly_limit} EUR."})
    return problems


def request_fingerprint(*, amount: Decimal, method: str, details: dict) -> str:
    """R-143: SHA-256 of canonical JSON of the request after defaults."""
    canonical = json.dumps(
        {"amount": f"{amount:.2f}", "method": method, "details": details},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
