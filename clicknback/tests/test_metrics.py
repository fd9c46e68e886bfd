"""GET /metrics (issue 10): Prometheus text format behind METRICS_TOKEN; request counts and latency by
route template, purchases and cashback by source, payouts by status, job passes, the last reconcile."""

import uuid
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction
from prometheus_client.parser import text_string_to_metric_families

from clicknback.testing import error_of, metric_sample

TOKEN = "metrics-test-token-0123456789"




def scrape(client) -> str:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    return response.content.decode()


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN


# --- access --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_are_off_without_a_token_and_look_like_an_unknown_route(client, settings):
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything")
    error_of(response, 404, "NOT_FOUND")


@pytest.mark.django_db
@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer "])
def test_metrics_refuse_a_missing_or_wrong_bearer_token(client, metrics_on, header):
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = client.get("/metrics", **extra)
    error_of(response, 401, "INVALID_TOKEN")
    assert response["WWW-Authenticate"] == "Bearer"
    assert b"clicknback_http_requests_total" not in response.content


@pytest.mark.django_db
def test_metrics_with_the_token_answer_in_the_prometheus_text_format(client, metrics_on):
    response = client.get("/metrics/", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    families = {f.name for f in text_string_to_metric_families(response.content.decode())}
    assert {"clicknback_http_requests", "clicknback_http_request_duration_seconds", "clicknback_payouts",
            "clicknback_purchases_ingested", "clicknback_job_passes"} <= families


@pytest.mark.django_db
def test_metrics_answer_other_methods_with_405(client, metrics_on):
    response = client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    error_of(response, 405, "METHOD_NOT_ALLOWED")


# --- requests ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_requests_are_counted_by_route_template_never_by_raw_path(client, admin_client, metrics_on):
    route = "/api/v1/purchases/<purchase_id>"
    ids = [uuid.uuid4(), uuid.uuid4()]
    before = scrape(client)
    for purchase_id in ids:
        assert admin_client.get(f"/api/v1/purchases/{purchase_id}").status_code == 404
    assert client.get("/health/live/").status_code == 200
    assert client.get(f"/no/such/{ids[0]}").status_code == 404
    after = scrape(client)

    assert str(ids[0]) not in after and str(ids[1]) not in after  # bounded cardinality: no raw paths
    labels = {"route": route, "method": "GET", "status": "404"}
    assert metric_sample(after, "clicknback_http_requests_total", **labels) - \
        metric_sample(before, "clicknback_http_requests_total", **labels) == 2
    assert metric_sample(after, "clicknback_http_request_duration_seconds_count", **labels) - \
        metric_sample(before, "clicknback_http_request_duration_seconds_count", **labels) == 2
    assert metric_sample(after, "clicknback_http_request_duration_seconds_bucket", le="+Inf", **labels) - \
        metric_sample(before, "clicknback_http_request_duration_seconds_bucket", le="+Inf", **labels) == 2
    unmatched = {"route": "<unmatched>", "method": "GET", "status": "404"}
    assert metric_sample(after, "clicknback_http_requests_total", **unmatched) - \
        metric_sample(before, "clicknback_http_requests_total", **unmatched) == 1
    live = {"route": "/health/live", "method": "GET", "status": "200"}
    assert metric_sample(after, "clicknback_http_requests_total", **live) - \
        metric_sample(before, "clicknback_http_requests_total", **live) == 1


# --- purchases, payouts ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_ingested_purchases_and_cashback_are_counted_by_source_once_committed(
        client, metrics_on, django_capture_on_commit_callbacks):
    from accounts.tests.factories import UserFactory
    from purchases.models import PurchaseSource
    from purchases.tests.factories import ingest, live_offer

    user = UserFactory()
    offer = live_offer(cashback_value="5.00")
    before = scrape(client)
    # The test's transaction never commits: run the callbacks a commit would run.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        ingest(user=user, merchant=offer.merchant, amount="100.00")   # 5.00
        ingest(user=user, merchant=offer.merchant, amount="30.00")    # 1.50
        with pytest.raises(RuntimeError), transaction.atomic():
            ingest(user=user, merchant=offer.merchant, amount="100.00")
            raise RuntimeError("rolled back: never counted")
    assert len(callbacks) == 2
    after = scrape(client)

    api = {"source": PurchaseSource.API.value}
    assert metric_sample(after, "clicknback_purchases_ingested_total", **api) - \
        metric_sample(before, "clicknback_purchases_ingested_total", **api) == 2
    cashback = metric_sample(after, "clicknback_cashback_ingested_total", **api) - \
        metric_sample(before, "clicknback_cashback_ingested_total", **api)
    assert Decimal(str(round(cashback, 2))) == Decimal("6.50")


@pytest.mark.django_db
def test_payouts_by_status_equal_a_count_in_sql(client, metrics_on):
    from accounts.tests.factories import AdminFactory, UserFactory
    from payouts.models import Payout, PayoutStatus
    from payouts.tests.factories import payout_in

    admin = AdminFactory()
    for status in (PayoutStatus.REQUESTED, PayoutStatus.PAID, PayoutStatus.PAID, PayoutStatus.REJECTED):
        payout_in(status, user=UserFactory(), admin=admin)

    text = scrape(client)

    for status in PayoutStatus.values:
        assert metric_sample(text, "clicknback_payouts", status=status) == Payout.objects.filter(status=status).count()
    assert metric_sample(text, "clicknback_payouts", status="paid") == 2


# --- jobs, reconciliation ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_job_pass_counts_its_items_and_failures(client, metrics_on):
    from accounts.tests.factories import UserFactory
    from purchases.tests.factories import ingest, live_offer

    offer = live_offer()
    user = UserFactory()
    for _ in range(3):
        ingest(user=user, merchant=offer.merchant)
    before = scrape(client)

    call_command("confirm_purchases", "--once", stdout=_Sink(), stderr=_Sink())
    after = scrape(client)

    job = {"job": "confirm_purchases"}
    assert metric_sample(after, "clicknback_job_passes_total", **job) - metric_sample(before, "clicknback_job_passes_total", **job) == 1
    assert metric_sample(after, "clicknback_job_items_handled_total", **job) - \
        metric_sample(before, "clicknback_job_items_handled_total", **job) == 3
    assert metric_sample(after, "clicknback_job_items_failed_total", **job) == metric_sample(
        before, "clicknback_job_items_failed_total", **job)
    assert metric_sample(after, "clicknback_job_last_pass_timestamp_seconds", **job) > 0


@pytest.mark.django_db
def test_the_last_reconcile_result_is_exposed(client, metrics_on):
    from accounts.tests.factories import UserFactory

    UserFactory.create_batch(3)  # each with a wallet
    call_command("reconcile_wallets", stdout=_Sink(), stderr=_Sink())

    text = scrape(client)

    from wallets.models import Wallet

    assert metric_sample(text, "clicknback_reconcile_last_wallets_checked", scope="all") == Wallet.objects.count()
    assert metric_sample(text, "clicknback_reconcile_last_mismatches", scope="all") == 0
    assert metric_sample(text, "clicknback_reconcile_last_run_timestamp_seconds", scope="all") > 0


@pytest.mark.django_db
def test_a_one_user_reconcile_does_not_stand_for_the_whole_ledger(client, metrics_on):
    from accounts.tests.factories import UserFactory

    users = UserFactory.create_batch(3)
    call_command("reconcile_wallets", stdout=_Sink(), stderr=_Sink())
    call_command("reconcile_wallets", "--user", str(users[0].pk), stdout=_Sink(), stderr=_Sink())

    text = scrape(client)

    assert metric_sample(text, "clicknback_reconcile_last_wallets_checked", scope="one_user") == 1
    assert metric_sample(text, "clicknback_reconcile_last_wallets_checked", scope="all") >= 3


class _Sink:
    def write(self, *_args, **_kwargs):
        pass

    def flush(self):
        pass

    def isatty(self):
        return False
