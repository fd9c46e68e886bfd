"""Lists flat as data grows (issue 7): exact totals (api.md §0.5) read cheaply, deep pages by a
deferred join, statement counts that do not grow with the page, and back-office change lists
without a full COUNT(*) and with autocomplete filters."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from clicknback import admin_lists
from clicknback.core.scale_data import HEAVY_USER_EMAIL, build_scale_data
from clicknback.pagination import DEFERRED_JOIN_OFFSET
from clicknback.testing import changelist_pks
from conftest import bearer_client
from merchants.models import Merchant
from purchases.models import Purchase
from wallets.models import CashbackTransaction, LedgerEntry

pytestmark = pytest.mark.django_db

PURCHASES = "/api/v1/purchases"
MY_PURCHASES = "/api/v1/users/me/purchases"
MY_TRANSACTIONS = "/api/v1/users/me/wallet/transactions"
PAYOUTS = "/api/v1/payouts"
MY_PAYOUTS = "/api/v1/users/me/payouts"


@pytest.fixture
def scale():
    """1,200 purchases of 4 users over 3 merchants; the heavy user has 1,100 of them, more than
    DEFERRED_JOIN_OFFSET, so a deep page of one filter exists."""
    build_scale_data(purchases=1200, users=4, heavy_user_purchases=1100, merchants=3)
    return User.objects.get(email=HEAVY_USER_EMAIL)


def page(client, url, **params):
    response = client.get(url, params)
    assert response.status_code == 200, response.content
    return response.json()


def ids(body) -> list[str]:
    return [row["id"] for row in body["data"]]


def newest_first(purchases) -> list[str]:
    return [str(pk) for pk in purchases.order_by("-created_at", "id").values_list("pk", flat=True)]


# --- exact totals ------------------------------------------------------------------------------------


def test_admin_purchase_list_total_is_exact_for_every_filter_api_0_5(scale, admin_client):
    merchant = Merchant.objects.filter(name__startswith="Scale Merchant").order_by("name").first()
    cases = [
        ({}, Purchase.objects.all()),
        ({"status": "pending"}, Purchase.objects.filter(status="pending")),
        ({"merchant_id": str(merchant.pk)}, Purchase.objects.filter(merchant=merchant)),
        ({"user_id": str(scale.pk)}, Purchase.objects.filter(user=scale)),
        ({"user_id": str(scale.pk), "status": "confirmed"}, Purchase.objects.filter(user=scale, status="confirmed")),
        ({"merchant_id": str(merchant.pk), "status": "rejected"},
         Purchase.objects.filter(merchant=merchant, status="rejected")),
    ]
    for filters, expected in cases:
        for limit, offset in [(1, 0), (100, 0), (100, 150), (10, expected.count() - 3), (10, 100000)]:
            body = page(admin_client, PURCHASES, limit=limit, offset=offset, **filters)
            assert body["pagination"]["total"] == expected.count(), (filters, limit, offset)
            assert ids(body) == newest_first(expected)[offset : offset + limit], (filters, limit, offset)


def test_admin_purchase_list_total_is_exact_for_a_date_range_api_0_5(scale, admin_client):
    newest = Purchase.objects.order_by("-created_at").first().created_at.date()
    start = newest - dt.timedelta(days=40)
    expected = Purchase.objects.filter(created_at__date__gte=start, created_at__date__lte=newest)

    body = page(admin_client, PURCHASES, start_date=start.isoformat(), end_date=newest.isoformat(), limit=5)

    assert 5 < expected.count() < Purchase.objects.count()
    assert body["pagination"]["total"] == expected.count()
    assert ids(body) == newest_first(expected)[:5]


def test_a_page_past_the_end_is_empty_with_the_real_total_api_0_5(scale, user_client):
    body = page(bearer_client(scale), MY_PURCHASES, offset=5000)

    assert body == {"data": [], "pagination": {"offset": 5000, "limit": 10, "total": 1100}}


def test_an_empty_list_has_total_zero(user_client):
    assert page(user_client, MY_PURCHASES)["pagination"]["total"] == 0


# --- deep offsets ------------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [DEFERRED_JOIN_OFFSET - 1, DEFERRED_JOIN_OFFSET, 1095, 1099])
def test_deep_pages_read_by_ids_first_hold_the_same_rows_in_the_same_order(scale, offset):
    client = bearer_client(scale)
    expected = newest_first(Purchase.objects.filter(user=scale))

    body = page(client, MY_PURCHASES, offset=offset, limit=20)

    assert ids(body) == expected[offset : offset + 20]
    assert body["pagination"]["total"] == 1100
    assert body["data"][0]["merchant_name"].startswith("Scale Merchant")  # rows complete, related data included


def test_deep_page_of_the_admin_list_with_a_filter(scale, admin_client):
    expected = newest_first(Purchase.objects.filter(user=scale))

    body = page(admin_client, PURCHASES, user_id=str(scale.pk), offset=1050, limit=100)

    assert ids(body) == expected[1050:]
    assert body["pagination"]["total"] == 1100


def test_deep_offset_reads_ids_then_rows_not_the_skipped_rows(scale, admin_client):
    with CaptureQueriesContext(connection) as queries:
        page(admin_client, PURCHASES, offset=1100, limit=20)

    selects = [q["sql"] for q in queries.captured_queries if "purchases_purchase" in q["sql"]]
    # the COUNT, one SELECT of ids only with the OFFSET, then the page's rows by id
    assert "COUNT(*)" in selects[0]
    assert re.match(r'SELECT "purchases_purchase"\."id"( AS "pk")? FROM', selects[1]) and "OFFSET 1100" in selects[1]
    assert '"purchases_purchase"."id" IN' in selects[2] and "OFFSET" not in selects[2]


# --- statement counts: the same bound for a page of 1 and of 100 --------------------------------------


@pytest.mark.parametrize("url, who, bound", [
    (PURCHASES, "admin", 3),            # user (authentication), COUNT, page
    (MY_PURCHASES, "heavy", 3),
    (MY_TRANSACTIONS, "heavy", 3),
])
@pytest.mark.parametrize("limit", [1, 100])
def test_list_statement_count_does_not_grow_with_the_page(scale, admin_user, url, who, bound, limit,
                                                          django_assert_max_num_queries):
    client = bearer_client(admin_user if who == "admin" else scale)

    with django_assert_max_num_queries(bound):
        body = page(client, url, limit=limit)

    assert len(body["data"]) == limit


@pytest.mark.parametrize("url", [MY_PURCHASES, PURCHASES])
@pytest.mark.parametrize("limit", [1, 100])
def test_deep_page_statement_count_does_not_grow_with_the_page(scale, admin_user, url, limit,
                                                               django_assert_max_num_queries):
    client = bearer_client(admin_user if url == PURCHASES else scale)

    with django_assert_max_num_queries(4):  # user, COUNT, ids, rows
        body = page(client, url, limit=limit, offset=DEFERRED_JOIN_OFFSET)

    assert len(body["data"]) == limit


@pytest.mark.parametrize("limit", [1, 100])
def test_payout_lists_statement_count_does_not_grow_with_the_page(admin_user, limit,
                                                                  django_assert_max_num_queries):
    from payouts.tests.factories import backdate, give_available, hours_ago, request
    from accounts.tests.factories import UserFactory

    for _ in range(2):
        user = UserFactory()
        give_available(user, "60.00")
        backdate(request(user, "30.00"), requested_at=hours_ago(72))
    for client, url in [(bearer_client(admin_user), PAYOUTS), (bearer_client(user), MY_PAYOUTS)]:
        with django_assert_max_num_queries(3):
            body = page(client, url, limit=limit)
        assert body["data"]


# --- the indexes the lists rely on --------------------------------------------------------------------


def plan(queryset, *, count: bool = False) -> str:
    sql, params = queryset.query.sql_with_params()
    if count:
        sql = f"SELECT count(*) FROM ({sql}) AS matching"
    with connection.cursor() as cursor:
        # On a test-sized table the planner would rather scan and sort, and without VACUUM
        # (impossible in a test's transaction) the visibility map is empty, so it would rather visit
        # the heap: all three off, the test asks whether an index can answer on its own.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize("filters, index", [
    ({}, "purchase_newest"),
    ({"status": "pending"}, "purchase_status_newest"),
    ({"merchant_id": "00000000-0000-0000-0000-000000000001"}, "purchase_merchant_newest"),
    ({"user_id": "00000000-0000-0000-0000-000000000001"}, "purchase_user_newest"),
])
def test_each_admin_list_filter_has_an_index_in_the_list_order_and_the_count_is_index_only(scale, filters, index):
    from purchases.selectors import list_purchases

    purchases = list_purchases(**filters)

    page_plan, count_plan = plan(purchases[:20]), plan(purchases.order_by().values("pk"), count=True)

    assert index in page_plan and "Sort" not in page_plan, page_plan
    assert "Index Only Scan" in count_plan, count_plan


# --- back-office change lists -------------------------------------------------------------------------


@pytest.fixture
def few_rows_counted_as_many(monkeypatch):
    """The change lists' estimate threshold lowered, so a test data set takes the large-table path."""
    monkeypatch.setattr(admin_lists, "EXACT_COUNT_BELOW", 100)


@pytest.mark.parametrize("url, table", [
    ("/admin/purchases/purchase/", "purchases_purchase"),
    ("/admin/wallets/ledgerentry/", "wallets_ledgerentry"),
    ("/admin/wallets/cashbacktransaction/", "wallets_cashbacktransaction"),
])
def test_large_change_lists_show_an_estimate_without_any_count(scale, office, few_rows_counted_as_many, url, table):
    with CaptureQueriesContext(connection) as queries:
        response = office.get(url)

    assert response.status_code == 200
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper() and table in q["sql"]]
    assert counts == []
    assert response.context["cl"].paginator.is_estimate
    assert response.context["cl"].full_result_count is None  # show_full_result_count = False
    assert re.search(r"about \d+ ", response.content.decode())


def test_small_change_lists_keep_an_exact_count(scale, office):
    response = office.get("/admin/purchases/purchase/", {"status__exact": "reversed"})

    cl = response.context["cl"]
    assert not cl.paginator.is_estimate
    assert cl.result_count == Purchase.objects.filter(status="reversed").count()


def test_purchase_change_list_filters_merchant_and_user_by_autocomplete(scale, office):
    merchants = Merchant.objects.count()

    response = office.get("/admin/purchases/purchase/")

    html = response.content.decode()
    for field in ("merchant", "user"):
        assert re.search(rf'<select[^>]*class="admin-autocomplete"[^>]*data-field-name="{field}"', html) or \
            re.search(rf'<select[^>]*data-field-name="{field}"[^>]*class="admin-autocomplete"', html), field
    assert "clicknback/admin/autocomplete_filter.js" in html and "select2" in html
    # no merchant is listed up front: the filter has only its "All" link
    assert html.count("merchant__id__exact=") == 0
    assert merchants > 2


def test_choosing_a_merchant_filters_the_purchase_change_list(scale, office):
    merchant = Merchant.objects.filter(name__startswith="Scale Merchant").order_by("name").first()

    response = office.get("/admin/purchases/purchase/", {"merchant__id__exact": str(merchant.pk)})

    shown = changelist_pks(response)
    assert shown and all(Purchase.objects.get(pk=pk).merchant_id == merchant.pk for pk in shown)
    assert response.context["cl"].result_count == Purchase.objects.filter(merchant=merchant).count()
    assert f'<option value="{merchant.pk}" selected>{merchant.name}</option>' in response.content.decode()


def test_choosing_a_user_filters_the_purchase_change_list(scale, office):
    other = User.objects.filter(email__startswith="user-").order_by("email").first()

    response = office.get("/admin/purchases/purchase/", {"user__id__exact": str(other.pk)})

    assert set(changelist_pks(response)) == set(Purchase.objects.filter(user=other).values_list("pk", flat=True))


def test_a_malformed_filter_id_is_refused_like_any_bad_lookup(scale, office):
    response = office.get("/admin/purchases/purchase/", {"merchant__id__exact": "not-a-uuid"})

    assert response.status_code == 302 and "e=1" in response["Location"]


def test_autocomplete_finds_merchants_by_name_for_the_filter(scale, office):
    response = office.get("/admin/autocomplete/", {
        "app_label": "purchases", "model_name": "purchase", "field_name": "merchant", "term": "Scale Merchant 0001",
    })

    assert response.status_code == 200
    assert [row["text"] for row in response.json()["results"]] == ["Scale Merchant 0001"]


def test_ledger_change_list_filters_by_user_from_the_wallet_page_link(scale, office):
    response = office.get("/admin/wallets/ledgerentry/", {"wallet__user__id__exact": str(scale.pk)})

    cl = response.context["cl"]
    assert {entry.wallet_id for entry in cl.result_list} == {scale.pk}
    assert cl.result_count == LedgerEntry.objects.filter(wallet_id=scale.pk).count()
    assert 'data-field-name="user"' in response.content.decode()


def test_cashback_change_list_filters_by_user(scale, office):
    response = office.get("/admin/wallets/cashbacktransaction/", {"user__id__exact": str(scale.pk)})

    assert response.context["cl"].result_count == CashbackTransaction.objects.filter(user=scale).count() == 1100


def test_payout_and_offer_change_lists_render_with_their_autocomplete_filters(office):
    for url, field in [("/admin/payouts/payout/", "user"), ("/admin/offers/offer/", "merchant")]:
        response = office.get(url)
        assert response.status_code == 200
        assert f'data-field-name="{field}"' in response.content.decode(), url


def test_date_hierarchy_lists_periods_without_select_distinct(scale, office):
    first = Purchase.objects.order_by("created_at").first().created_at
    last = Purchase.objects.order_by("-created_at").first().created_at

    with CaptureQueriesContext(connection) as queries:
        top = office.get("/admin/purchases/purchase/")
    year = office.get("/admin/purchases/purchase/", {"created_at__year": str(last.year)})
    month = office.get("/admin/purchases/purchase/",
                       {"created_at__year": str(last.year), "created_at__month": str(last.month)})

    assert not [q for q in queries.captured_queries if "DISTINCT" in q["sql"].upper()]
    top_html, year_html, month_html = (r.content.decode() for r in (top, year, month))
    for y in range(first.year, last.year + 1):
        assert f"created_at__year={y}" in top_html
    assert f"created_at__month={last.month}" in year_html
    assert f"created_at__day=1&amp;" in month_html or "created_at__day=1\"" in month_html
    assert set(changelist_pks(month)) <= set(
        Purchase.objects.filter(created_at__year=last.year, created_at__month=last.month).values_list("pk", flat=True))


@pytest.mark.parametrize("month", ["13", "0", "x"])
def test_date_hierarchy_of_a_month_that_does_not_exist_is_refused_not_a_500(scale, office, month):
    response = office.get("/admin/purchases/purchase/", {"created_at__year": "2026", "created_at__month": month})

    assert response.status_code == 302 and "e=1" in response["Location"]
