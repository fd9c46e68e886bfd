"""Reads of payouts."""

import datetime as dt
from decimal import Decimal

from django.db.models import QuerySet

from clicknback.errors import NotFound
from clicknback.fields import parse_uuid
from clicknback.query import within_utc_days
from payouts.models import Payout, PayoutStatus

# `pending` is accepted as a synonym of `requested` on both payout lists.
STATUS_FILTER_VALUES = [*PayoutStatus.values, "pending"]


def normalise_status(value: str | None) -> str | None:
    return PayoutStatus.REQUESTED if value == "pending" else value


def list_payouts(*, status: str | None = None, user_id=None, start_date: dt.date | None = None,
                 end_date: dt.date | None = None) -> QuerySet[Payout]:
    """Newest request first, ties by id; date bounds are inclusive UTC days on requested_at."""
    payouts = Payout.objects.all()
    if status is not None:
        payouts = payouts.filter(status=normalise_status(status))
    if user_id is not None:
        payouts = payouts.filter(user_id=user_id)
    payouts = within_utc_days(payouts, "requested_at", start_date, end_date)
    return payouts.order_by("-requested_at", "id")


def get_payout_for(payout_id, *, viewer) -> Payout:
    """Owner or admin; another user's payout answers like an unknown one."""
    parsed = parse_uuid(payout_id)
    payout = Payout.objects.filter(pk=parsed).first() if parsed else None
    if payout is None or (not viewer.is_admin and payout.user_id != viewer.pk):
        raise NotFound("payout", payout_id)
    return payout


def platform_liabilities(*, now: dt.datetime) -> dict:
    """The dashboard's figures (admin.md): what the platform owes users, what waits in the payout
    pipeline, and what was paid this UTC month. Two aggregate queries, whatever the data size."""
    from django.db.models import Count, DecimalField, Q, Sum, Value
    from django.db.models.functions import Coalesce

    from wallets.models import Wallet

    zero = Value(0, output_field=DecimalField(max_digits=12, decimal_places=2))
    balances = Wallet.objects.aggregate(
        pending=Coalesce(Sum("pending_balance"), zero),
        available=Coalesce(Sum("available_balance"), zero),
        clawback=Coalesce(Sum("clawback_balance"), zero),
    )
    month_start = now.astimezone(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)

    def bucket(condition):
        return {"count": Count("id", filter=condition), "sum": Coalesce(Sum("amount", filter=condition), zero)}

    buckets = {
        "awaiting_approval": Q(status=PayoutStatus.REQUESTED),
        "approved": Q(status=PayoutStatus.APPROVED),
        "processing": Q(status=PayoutStatus.PROCESSING),
        "paid_this_month": Q(status=PayoutStatus.PAID, processed_at__gte=month_start),
    }
    aggregates = {}
    for name, condition in buckets.items():
        parts = bucket(condition)
        aggregates[f"{name}_count"] = parts["count"]
        aggregates[f"{name}_sum"] = parts["sum"]
    pipeline = Payout.objects.aggregate(**aggregates)

    def money(value):  # COALESCE(…, 0) comes back as Decimal("0"): shown as money, "0.00"
        return value.quantize(Decimal("0.01"))

    return {
        "balances": {name: money(value) for name, value in balances.items()},
        "payouts": {name: {"count": pipeline[f"{name}_count"], "sum": money(pipeline[f"{name}_sum"])}
                    for name in buckets},
    }
