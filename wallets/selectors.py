"""Reads of wallets: summary, cashback transactions."""

import datetime as dt
from decimal import Decimal

from django.db import connection
from django.db.models import DecimalField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncDate

from wallets.models import ZERO, BalanceName, CashbackTransaction, LedgerEntry, LedgerReason, Wallet


BALANCE_FIELDS = ("pending_balance", "available_balance", "paid_balance", "clawback_balance")


def wallet_summary(user_id) -> dict:
    """The four balances as Decimals, one row read; all 0.00 when the user has no wallet row yet (R-119)."""
    row = Wallet.objects.filter(user_id=user_id).values(*BALANCE_FIELDS).first()
    return row if row is not None else dict.fromkeys(BALANCE_FIELDS, ZERO)


def cashback_transactions_of(user_id) -> QuerySet[CashbackTransaction]:
    """api.md §8: newest first, ties by id."""
    return CashbackTransaction.objects.filter(user_id=user_id).order_by("-created_at", "id")


# --- the liabilities dashboard's charts (issue 10): aggregated in PostgreSQL, one query each --------


def _utc_days(*, now: dt.datetime, days: int) -> list[dt.date]:
    today = now.astimezone(dt.UTC).date()
    return [today - dt.timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def _utc_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def cashback_per_day(*, now: dt.datetime, days: int = 30) -> list[dict]:
    """Cashback earned, confirmed and reversed on each of the last `days` UTC days (today included),
    from the ledger:
      earned    = the pending credits of ingestion (reason cashback_earned);
      confirmed = the pending debits of confirmation (R-91: the whole cashback, whatever clawback it settled);
      reversed  = what reversals (R-93) took back: their pending or available debits plus the clawback
                  they recorded for a shortfall (R-115). Rejections of pending purchases are not reversals.
    One GROUP BY over the window's entries (index on created_at); days without entries are 0.00."""
    window = _utc_days(now=now, days=days)
    zero = Value(ZERO, output_field=DecimalField(max_digits=14, decimal_places=2))

    def total(condition):
        return Coalesce(Sum("amount", filter=condition), zero)

    rows = (
        LedgerEntry.objects.filter(created_at__gte=_utc_midnight(window[0]), reason__in=[
            LedgerReason.CASHBACK_EARNED, LedgerReason.CASHBACK_CONFIRMED, LedgerReason.CASHBACK_REVERSED,
            LedgerReason.CLAWBACK_RECORDED])
        .annotate(day=TruncDate("created_at", tzinfo=dt.UTC))
        .values("day")
        .annotate(
            earned=total(Q(reason=LedgerReason.CASHBACK_EARNED)),
            confirmed=total(Q(reason=LedgerReason.CASHBACK_CONFIRMED, balance=BalanceName.PENDING)),
            reversed_taken=total(Q(reason=LedgerReason.CASHBACK_REVERSED)),
            reversed_owed=total(Q(reason=LedgerReason.CLAWBACK_RECORDED)),
        )
        .order_by("day")
    )
    by_day = {row["day"]: row for row in rows}
    series = []
    for day in window:
        row = by_day.get(day)
        series.append({
            "day": day,
            "earned": row["earned"] if row else ZERO,
            "confirmed": -row["confirmed"] if row else ZERO,
            "reversed": row["reversed_owed"] - row["reversed_taken"] if row else ZERO,
        })
    return series


BALANCES = [BalanceName.PENDING, BalanceName.AVAILABLE, BalanceName.PAID, BalanceName.CLAWBACK]

_BALANCES_PER_DAY_SQL = """
WITH totals AS (
    SELECT COALESCE(SUM(pending_balance), 0) AS pending, COALESCE(SUM(available_balance), 0) AS available,
           COALESCE(SUM(paid_balance), 0) AS paid, COALESCE(SUM(clawback_balance), 0) AS clawback
    FROM {wallet}
),
days AS (
    SELECT generate_series(%(first)s::date, %(last)s::date, interval '1 day')::date AS day
),
moves AS (
    SELECT (created_at AT TIME ZONE 'UTC')::date AS day,
           SUM(amount) FILTER (WHERE balance = 'pending') AS pending,
           SUM(amount) FILTER (WHERE balance = 'available') AS available,
           SUM(amount) FILTER (WHERE balance = 'paid') AS paid,
           SUM(amount) FILTER (WHERE balance = 'clawback') AS clawback
    FROM {ledger}
    WHERE created_at >= %(start)s
    GROUP BY 1
),
daily AS (
    SELECT days.day, COALESCE(moves.pending, 0) AS pending, COALESCE(moves.available, 0) AS available,
           COALESCE(moves.paid, 0) AS paid, COALESCE(moves.clawback, 0) AS clawback
    FROM days LEFT JOIN moves ON moves.day = days.day
)
SELECT daily.day,
       totals.pending - COALESCE(SUM(daily.pending) OVER later, 0),
       totals.available - COALESCE(SUM(daily.available) OVER later, 0),
       totals.paid - COALESCE(SUM(daily.paid) OVER later, 0),
       totals.clawback - COALESCE(SUM(daily.clawback) OVER later, 0)
FROM daily CROSS JOIN totals
WINDOW later AS (ORDER BY daily.day DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
ORDER BY daily.day
"""


def balance_totals_per_day(*, now: dt.datetime, days: int = 30) -> list[dict]:
    """The four balance totals of all wallets (pending, available, paid, clawback) at the end of each of the
    last `days` UTC days (today: now). Worked back from today's totals through the ledger: the total at the
    end of day d is today's total minus every ledger movement after d. Wallets equal their ledger (R-112,
    checked by reconcile C1–C6), so this is the ledger's own running sum — without reading the ledger's
    whole history: one statement (one snapshot) over the wallets and the window's entries."""
    window = _utc_days(now=now, days=days)
    if connection.vendor != "postgresql":
        return _balance_totals_per_day_portable(window)
    sql = _BALANCES_PER_DAY_SQL.format(wallet=Wallet._meta.db_table, ledger=LedgerEntry._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(sql, {"first": window[0], "last": window[-1], "start": _utc_midnight(window[0])})
        rows = cursor.fetchall()
    return [{"day": day, **{str(name): Decimal(value).quantize(Decimal("0.01"))
                            for name, value in zip(BALANCES, values)}} for day, *values in rows]


def _balance_totals_per_day_portable(window: list[dt.date]) -> list[dict]:
    """The same figures through the ORM, for the SQLite file `make run` uses by default: two aggregate
    queries (today's totals; the window's movements per day and balance), summed back day by day over the
    at most days × 4 aggregated rows. Two statements, so a write landing between them can skew today."""
    totals = Wallet.objects.aggregate(**{str(name): Coalesce(Sum(f"{name}_balance"), Value(ZERO)) for name in BALANCES})
    moves = {(row["day"], row["balance"]): row["delta"] for row in (
        LedgerEntry.objects.filter(created_at__gte=_utc_midnight(window[0]))
        .annotate(day=TruncDate("created_at", tzinfo=dt.UTC)).values("day", "balance")
        .annotate(delta=Sum("amount")).order_by())}
    running = {str(name): Decimal(totals[str(name)]) for name in BALANCES}
    series = []
    for day in reversed(window):  # today's totals, then undo each later day's movements
        series.append({"day": day, **{name: value.quantize(Decimal("0.01")) for name, value in running.items()}})
        for name in running:
            running[name] -= Decimal(moves.get((day, name), 0))
    return series[::-1]
