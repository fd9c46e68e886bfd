"""The liabilities dashboard's job health and charts (issue 10): the aggregates behind each chart are
checked figure by figure against a known history and against independent SQL over the raw rows, and the
page draws them as SVG. History is made through the real services at chosen moments (the clock is
moved with `at`), so the ledger holds exactly what production would write."""

import contextlib
import datetime as dt
import re
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import AdminFactory, UserFactory
from clicknback import charts
from clicknback.audit.services import Actor
from clicknback.core import services as heartbeat
from merchants.tests.factories import MerchantFactory
from offers import services as offer_services
from payouts import selectors, services
from payouts.models import Payout
from payouts.views import render_payout
from purchases import services as purchase_services
from wallets import selectors as wallet_selectors

pytestmark = pytest.mark.django_db

D = Decimal
DASHBOARD = "/admin/payouts/payout/dashboard/"
NOW = dt.datetime(2026, 11, 18, 15, 30, tzinfo=dt.UTC)  # a Wednesday


def days_ago(n: int, hour: int = 12) -> dt.datetime:
    return (NOW - dt.timedelta(days=n)).replace(hour=hour, minute=0, second=0, microsecond=0)


@contextlib.contextmanager
def at(moment: dt.datetime):
    """Everything inside happens at `moment` (timezone.now() is what services and auto_now use)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timezone, "now", lambda: moment)
        yield


@pytest.fixture
def relaxed(settings):
    settings.PAYOUT_MIN_INTERVAL_HOURS = 0
    settings.PAYOUT_WEEKLY_LIMIT = D("1000000.00")


def live_merchant(start: dt.datetime):
    """A merchant paying a fixed 100.00 per purchase from `start` on."""
    merchant = MerchantFactory()
    with at(start):
        offer_services.create_offer(
            merchant_id=merchant.pk, cashback_type="fixed", cashback_value=D("100.00"),
            start_date=start.date(), end_date=start.date() + dt.timedelta(days=90),
            monthly_cap=D("10000.00"), actor=Actor.system())
    return merchant


def ingest(user, merchant, moment):
    with at(moment):
        return purchase_services.ingest_purchase(
            user_id=user.pk, merchant_id=merchant.pk, external_id=f"chart-{uuid.uuid4().hex[:10]}",
            amount=D("500.00"), currency="EUR", actor=Actor.of_user(user))


def confirm(purchase, moment):
    with at(moment):
        purchase_services.confirm_purchase(purchase_id=purchase.pk, actor=Actor.system())


def reverse(purchase, moment):
    with at(moment):
        purchase_services.reverse_purchase(purchase_id=purchase.pk, reason="chargeback", actor=Actor.system())


def reject(purchase, moment):
    with at(moment):
        purchase_services.reject_purchase(purchase_id=purchase.pk, reason="no bank movement", actor=Actor.system())


def request_payout(user, amount: str, moment) -> Payout:
    with at(moment):
        return services.request_payout(user=user, amount=D(amount), method="bank_transfer", details={},
                                       idempotency_key=None, actor=Actor.of_user(user), render=render_payout).payout


def move_payout(payout, targets, moment, admin):
    with at(moment):
        for target in targets:
            payout = services.change_payout_status(
                payout_id=payout.pk, target=target, actor=Actor.of_user(admin),
                **({"reason": "bank refused"} if target == "failed" else {}),
                **({"external_reference": "ref-1"} if target == "paid" else {}))
    return payout


@pytest.fixture
def history(relaxed):
    """Two users' cashback and payouts over seven weeks (amounts in EUR, days before NOW):
    -40  A earns 100 (P0) and it is confirmed the same day: before the 30-day window
    -20  A earns P1 100, B earns P2 100 and P3 100
    -10  P1 confirmed (A: 200 available); A asks a 150 payout (A: 50 available)
     -9  A's payout approved, processing, paid
     -3  P1 reversed: 50 taken from available, 50 recorded as clawback; P2 rejected (not a reversal)
      0  B earns P4 100; P3 confirmed; B asks 40 and it fails the same day (back in available)"""
    admin = AdminFactory()
    merchant = live_merchant(days_ago(45))
    a, b = UserFactory(), UserFactory()
    p0 = ingest(a, merchant, days_ago(40, 9))
    confirm(p0, days_ago(40, 10))
    p1 = ingest(a, merchant, days_ago(20, 8))
    p2 = ingest(b, merchant, days_ago(20, 23))
    p3 = ingest(b, merchant, days_ago(20, 23))
    confirm(p1, days_ago(10, 0))
    paid = request_payout(a, "150.00", days_ago(10, 1))
    move_payout(paid, ["approved", "processing", "paid"], days_ago(9), admin)
    reverse(p1, days_ago(3))
    reject(p2, days_ago(3))
    ingest(b, merchant, days_ago(0, 1))
    confirm(p3, days_ago(0, 2))
    failed = request_payout(b, "40.00", days_ago(0, 3))
    move_payout(failed, ["approved", "processing", "failed"], days_ago(0, 4), admin)
    return {"paid": paid, "failed": failed}


# --- cashback per day ------------------------------------------------------------------------------------


def test_cashback_per_day_covers_the_last_30_utc_days_with_the_known_figures(history):
    series = wallet_selectors.cashback_per_day(now=NOW, days=30)

    assert [row["day"] for row in series] == [(NOW - dt.timedelta(days=n)).date() for n in range(29, -1, -1)]
    figures = {(NOW.date() - row["day"]).days: (row["earned"], row["confirmed"], row["reversed"])
               for row in series if any((row["earned"], row["confirmed"], row["reversed"]))}
    assert figures == {
        20: (D("300.00"), D("0.00"), D("0.00")),
        10: (D("0.00"), D("100.00"), D("0.00")),
        3: (D("0.00"), D("0.00"), D("100.00")),  # 50 taken + 50 clawback; the rejection is not counted
        0: (D("100.00"), D("100.00"), D("0.00")),
    }
    assert all(isinstance(v, Decimal) for row in series for v in (row["earned"], row["confirmed"], row["reversed"]))


def test_cashback_per_day_matches_independent_sql_over_the_ledger(history):
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT (created_at AT TIME ZONE 'UTC')::date,
                   SUM(amount) FILTER (WHERE reason = 'cashback_earned'),
                   -SUM(amount) FILTER (WHERE reason = 'cashback_confirmed' AND balance = 'pending'),
                   COALESCE(SUM(amount) FILTER (WHERE reason = 'clawback_recorded'), 0)
                     - COALESCE(SUM(amount) FILTER (WHERE reason = 'cashback_reversed'), 0)
            FROM wallets_ledgerentry
            WHERE created_at >= %s GROUP BY 1""", [dt.datetime.combine(NOW.date() - dt.timedelta(days=29),
                                                                          dt.time(), tzinfo=dt.UTC)])
        from_sql = {day: tuple(v or D("0.00") for v in values) for day, *values in cursor.fetchall()}
    series = wallet_selectors.cashback_per_day(now=NOW, days=30)
    got = {row["day"]: (row["earned"], row["confirmed"], row["reversed"]) for row in series}
    assert got == {day: from_sql.get(day, (D("0.00"),) * 3) for day in got}
    assert sum(1 for figures in got.values() if any(figures)) == 4


def test_a_day_boundary_is_midnight_utc():
    merchant = live_merchant(days_ago(5))
    user = UserFactory()
    ingest(user, merchant, days_ago(1).replace(hour=23, minute=59, second=59))
    ingest(user, merchant, days_ago(0).replace(hour=0, minute=0, second=0))
    series = wallet_selectors.cashback_per_day(now=NOW, days=2)
    assert [(row["day"], row["earned"]) for row in series] == [
        (days_ago(1).date(), D("100.00")), (NOW.date(), D("100.00"))]


# --- balance totals over time ----------------------------------------------------------------------------


def test_balance_totals_per_day_equal_the_ledgers_running_sum_at_the_end_of_each_day(history):
    series = wallet_selectors.balance_totals_per_day(now=NOW, days=30)
    assert len(series) == 30 and series[-1]["day"] == NOW.date()
    with connection.cursor() as cursor:
        for row in series:
            end_of_day = dt.datetime.combine(row["day"] + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
            cursor.execute("SELECT balance, SUM(amount) FROM wallets_ledgerentry WHERE created_at < %s "
                           "GROUP BY balance", [end_of_day])
            from_ledger = {"pending": D("0.00"), "available": D("0.00"), "paid": D("0.00"), "clawback": D("0.00"),
                           **dict(cursor.fetchall())}
            assert {k: row[k] for k in from_ledger} == from_ledger, row["day"]


def test_balance_totals_per_day_show_the_known_history(history):
    by_age = {(NOW.date() - row["day"]).days: row for row in wallet_selectors.balance_totals_per_day(now=NOW, days=30)}

    def totals(n):
        return tuple(by_age[n][k] for k in ("pending", "available", "paid", "clawback"))

    assert totals(29) == (D("0.00"), D("100.00"), D("0.00"), D("0.00"))  # only P0, from before the window
    assert totals(20) == (D("300.00"), D("100.00"), D("0.00"), D("0.00"))
    assert totals(10) == (D("200.00"), D("50.00"), D("0.00"), D("0.00"))  # P1 confirmed, 150 requested
    assert totals(9) == (D("200.00"), D("50.00"), D("150.00"), D("0.00"))
    assert totals(3) == (D("100.00"), D("0.00"), D("150.00"), D("50.00"))
    assert totals(0) == (D("100.00"), D("100.00"), D("150.00"), D("50.00"))  # B: P3 100 available, 40 back


def test_the_portable_balance_totals_for_sqlite_agree_with_the_postgresql_statement(history):
    from wallets.selectors import _balance_totals_per_day_portable, _utc_days

    assert _balance_totals_per_day_portable(_utc_days(now=NOW, days=30)) == \
        wallet_selectors.balance_totals_per_day(now=NOW, days=30)


def test_balance_totals_of_an_empty_platform_are_zero_every_day():
    series = wallet_selectors.balance_totals_per_day(now=NOW, days=3)
    assert series == [{"day": (NOW - dt.timedelta(days=n)).date(), "pending": D("0.00"), "available": D("0.00"),
                       "paid": D("0.00"), "clawback": D("0.00")} for n in (2, 1, 0)]


# --- payouts per week ------------------------------------------------------------------------------------


def test_payouts_per_week_count_requests_by_request_date_and_outcomes_by_processing_date(history):
    weeks = selectors.payouts_per_week(now=NOW, weeks=12)
    monday = NOW.date() - dt.timedelta(days=NOW.weekday())
    assert [row["week"] for row in weeks] == [monday - dt.timedelta(weeks=n) for n in range(11, -1, -1)]
    figures = {row["week"]: {k: (row[k]["count"], row[k]["amount"]) for k in ("requested", "paid", "failed")}
               for row in weeks if any(row[k]["count"] for k in ("requested", "paid", "failed"))}
    ten_days_ago, nine_days_ago = days_ago(10).date(), days_ago(9).date()
    week_of = lambda day: day - dt.timedelta(days=day.weekday())  # noqa: E731
    expected = {week_of(ten_days_ago): {"requested": (1, D("150.00")), "paid": (0, D("0.00")), "failed": (0, D("0.00"))},
                monday: {"requested": (1, D("40.00")), "paid": (0, D("0.00")), "failed": (1, D("40.00"))}}
    expected.setdefault(week_of(nine_days_ago), {"requested": (0, D("0.00")), "paid": (0, D("0.00")),
                                                 "failed": (0, D("0.00"))})["paid"] = (1, D("150.00"))
    assert figures == expected


def test_payouts_per_week_match_independent_sql(history, relaxed):
    admin, user = AdminFactory(), UserFactory()
    merchant = live_merchant(days_ago(100))
    for n in (90, 50, 35):  # more weeks, some older than the 12-week window
        confirm(ingest(user, merchant, days_ago(n + 1)), days_ago(n + 1, 13))
        move_payout(request_payout(user, "30.00", days_ago(n)), ["approved", "processing", "paid"], days_ago(n - 1), admin)
    weeks = selectors.payouts_per_week(now=NOW, weeks=12)
    start = dt.datetime.combine(weeks[0]["week"], dt.time(), tzinfo=dt.UTC)
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT date_trunc('week', requested_at AT TIME ZONE 'UTC')::date, 'requested', count(*), sum(amount)
            FROM payouts_payout WHERE requested_at >= %s GROUP BY 1
            UNION ALL
            SELECT date_trunc('week', processed_at AT TIME ZONE 'UTC')::date, status, count(*), sum(amount)
            FROM payouts_payout WHERE processed_at >= %s AND status IN ('paid', 'failed') GROUP BY 1, 2""",
                       [start, start])
        expected = {(week, kind): (count, amount) for week, kind, count, amount in cursor.fetchall()}
    got = {(row["week"], kind): (row[kind]["count"], row[kind]["amount"])
           for row in weeks for kind in ("requested", "paid", "failed") if row[kind]["count"]}
    assert got == expected and len(expected) >= 5
    assert Payout.objects.filter(requested_at__lt=start).count() == 1  # the 90-days-ago one is left out


# --- the page ---------------------------------------------------------------------------------------------


def svg(content: str, chart_id: str) -> str:
    match = re.search(rf'<svg id="{chart_id}".*?</svg>', content, re.S)
    assert match, f"no SVG #{chart_id}"
    return match.group(0)


def drawn_values(svg_text: str, series: str) -> list[str]:
    return re.findall(rf'data-series="{series}" data-label="[^"]*" data-value="([^"]*)"', svg_text)


def test_the_dashboard_draws_the_three_charts_as_inline_svg_with_their_figures(office, history, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    content = office.get(DASHBOARD).content.decode()

    cashback = svg(content, "chart-cashback")
    earned = drawn_values(cashback, "Earned")
    assert len(earned) == 30 and earned[-21] == "300.00" and earned[-1] == "100.00"
    assert drawn_values(cashback, "Reversed")[-4] == "100.00"
    balances = svg(content, "chart-balances")
    assert drawn_values(balances, "Paid out")[-1] == "150.00" and drawn_values(balances, "Clawback")[-1] == "50.00"
    payouts = svg(content, "chart-payouts")
    assert drawn_values(payouts, "Failed")[-1] == "40.00"
    assert "1 payouts, 40.00 EUR" in payouts
    assert "<script" not in content.split("<h2>Cashback per day")[1]  # drawn server-side, no JavaScript
    assert "http" not in "".join(re.findall(r'<svg.*?</svg>', content, re.S)).replace("http://www.w3.org/2000/svg", "")


def test_the_dashboard_costs_the_same_queries_whatever_the_history(office, relaxed):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert office.get(DASHBOARD).status_code == 200
        return len(captured)

    empty = queries()
    merchant = live_merchant(days_ago(40, 0))
    for n in range(0, 30, 3):
        purchase = ingest(UserFactory(), merchant, days_ago(n))
        confirm(purchase, days_ago(n, 13))
    assert queries() == empty


def test_the_dashboard_shows_each_jobs_last_pass_and_warns_when_one_is_stale_or_never_ran(office):
    now = timezone.now()
    heartbeat.record_pass(job="confirm_purchases", interval_seconds=60, started_at=now - dt.timedelta(seconds=11),
                          finished_at=now - dt.timedelta(seconds=10), handled=7, failed=2)
    content = office.get(DASHBOARD).content.decode()
    row = re.search(r'<tr id="job-confirm_purchases" class="job-ok">.*?</tr>', content, re.S).group(0)
    assert 'class="job-handled">7<' in row and 'class="job-failed">2<' in row and "(10s ago)" in row
    assert 'id="job-warning-confirm_purchases"' not in content
    assert re.search(r'id="job-warning-process_payouts">\s*<strong>process_payouts</strong> has never completed a pass',
                     content)

    heartbeat.record_pass(job="process_payouts", interval_seconds=60, started_at=now - dt.timedelta(minutes=4),
                          finished_at=now - dt.timedelta(seconds=181), handled=0, failed=0)
    content = office.get(DASHBOARD).content.decode()
    assert '<tr id="job-process_payouts" class="job-unhealthy">' in content
    assert "<strong>process_payouts</strong> has not completed a pass for 3m — more than three intervals (3m)" in content


# --- the SVG helpers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, top", [(0, 1), (D("0.40"), D("0.5")), (1, 1), (7, 10), (D("100.00"), 100),
                                        (101, 200), (240, D("250")), (4100, 5000), (99999, 100000)])
def test_the_y_axis_ends_at_a_round_number_at_or_above_the_largest_value(value, top):
    assert charts.nice_ceiling(value) == top


def test_a_bar_is_as_high_as_its_share_of_the_axis_and_labels_are_escaped():
    out = charts.bar_chart(chart_id="c", title="<T>", labels=["a<b", "c"],
                           series=[charts.Series("S&P", [D("50.00"), D("100.00")], "#000")])
    heights = [float(h) for h in re.findall(r'<rect x="[^"]*" y="[^"]*" width="[^"]*" height="([^"]*)" fill="#000"', out)]
    assert heights[1] == pytest.approx(2 * heights[0]) and heights[1] == pytest.approx(240 - 14 - 46)
    assert "a&lt;b" in out and "S&amp;P" in out and "<T>" not in out
