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


def payouts_per_week(*, now: dt.datetime, weeks: int = 12) -> list[dict]:
    """Payouts requested, paid and failed in each of the last `weeks` ISO weeks (Monday 00:00 UTC, the
    current week included): count and amount. Requested counts every request by its requested_at,
    whatever became of it; paid and failed count by processed_at. Two GROUP BY queries."""
    from django.db.models import CharField, Count, F, Sum, Value
    from django.db.models.functions import TruncWeek

    this_monday = now.astimezone(dt.UTC).date() - dt.timedelta(days=now.astimezone(dt.UTC).weekday())
    mondays = [this_monday - dt.timedelta(weeks=offset) for offset in range(weeks - 1, -1, -1)]
    start = dt.datetime(mondays[0].year, mondays[0].month, mondays[0].day, tzinfo=dt.UTC)

    requested = (Payout.objects.filter(requested_at__gte=start)
                 .annotate(week=TruncWeek("requested_at", tzinfo=dt.UTC), kind=Value("requested", output_field=CharField()))
                 .values("week", "kind").annotate(count=Count("id"), amount=Sum("amount")).order_by())
    finished = (Payout.objects.filter(status__in=[PayoutStatus.PAID, PayoutStatus.FAILED], processed_at__gte=start)
                .annotate(week=TruncWeek("processed_at", tzinfo=dt.UTC), kind=F("status"))
                .values("week", "kind").annotate(count=Count("id"), amount=Sum("amount")).order_by())

    series = {monday: {"week": monday, **{kind: {"count": 0, "amount": Decimal("0.00")}
                                          for kind in ("requested", "paid", "failed")}} for monday in mondays}
    for row in [*requested, *finished]:
        series[row["week"].date()][row["kind"]] = {"count": row["count"], "amount": row["amount"]}
    return [series[monday] for monday in mondays]
