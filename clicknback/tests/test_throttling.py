"""R-215, R-217: throttle counters are one atomic statement per check, so a burst of parallel requests
from many threads lets through exactly the limit — never "the limit × threads"."""

import uuid
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.tests.factories import TEST_PASSWORD, UserFactory
from clicknback import throttling
from clicknback.core.models import ThrottleCounter
from clicknback.testing import error_of, run_concurrently
from conftest import bearer_client
from purchases.models import Purchase
from purchases.tests.factories import live_offer

LOGIN = "/api/v1/auth/login"
PURCHASES = "/api/v1/purchases"

ALL_HIGH = {"login_ip": "1000/min", "login_email": "1000/min", "register_ip": "1000/min",
            "refresh_ip": "1000/min", "ingest_user": "1000/min", "payout_user": "1000/hour"}


@pytest.fixture
def limits(settings):
    settings.THROTTLING_ENABLED = True
    settings.THROTTLE_RATES = dict(ALL_HIGH)
    return settings.THROTTLE_RATES


class _Scope(throttling.CounterThrottle):
    scope = "login_ip"


# --- the counter itself ------------------------------------------------------------------------


@pytest.mark.django_db
def test_hits_count_up_within_a_window_and_restart_after_it():
    assert throttling.hit(scope="s", ident="k", period=60, now=1000.0) == (1, 1060.0)
    assert throttling.hit(scope="s", ident="k", period=60, now=1030.0) == (2, 1060.0)
    assert throttling.hit(scope="s", ident="other", period=60, now=1030.0) == (1, 1090.0)
    assert throttling.hit(scope="t", ident="k", period=60, now=1030.0) == (1, 1090.0)
    # The window ended: the count restarts, with a new window from this hit.
    assert throttling.hit(scope="s", ident="k", period=60, now=1060.0) == (1, 1120.0)
    assert ThrottleCounter.objects.count() == 3  # one row per (scope, key), whatever the number of windows


@pytest.mark.django_db
def test_purge_deletes_only_counters_whose_window_ended():
    throttling.hit(scope="s", ident="old", period=60, now=1000.0)
    throttling.hit(scope="s", ident="live", period=60, now=1050.0)

    assert throttling.purge_expired(now=1060.0) == 1

    assert list(ThrottleCounter.objects.values_list("ident", flat=True)) == ["live"]


@pytest.mark.django_db
def test_a_check_is_one_statement_r217(limits):
    throttle = _Scope()
    with mock.patch.object(throttling.random, "randrange", return_value=1):  # no purge this time
        with CaptureQueriesContext(connection) as queries:
            assert throttle.allow_key("10.0.0.1")
    assert len(queries) == 1
    assert queries[0]["sql"].startswith("INSERT INTO") and "ON CONFLICT" in queries[0]["sql"]


@pytest.mark.django_db
def test_over_the_limit_the_wait_is_the_rest_of_the_window_rounded_up(limits):
    limits["login_ip"] = "2/min"
    clock = [5000.0]
    with mock.patch.object(throttling.CounterThrottle, "timer", side_effect=lambda: clock[0]):
        assert _Scope().allow_key("ip")
        clock[0] += 10.5
        assert _Scope().allow_key("ip")
        refused = _Scope()
        assert not refused.allow_key("ip")
        assert refused.wait() == 50  # the window ends at 5060.0; 49.5 s rounds up
        clock[0] = 5060.0
        assert _Scope().allow_key("ip")


@pytest.mark.django_db
def test_every_so_often_a_check_purges_ended_counters(limits):
    throttling.hit(scope="login_ip", ident="long-gone", period=60, now=1.0)
    with mock.patch.object(throttling.random, "randrange", return_value=0):
        assert _Scope().allow_key("10.0.0.9")
    assert not ThrottleCounter.objects.filter(ident="long-gone").exists()


@pytest.mark.django_db
def test_a_key_longer_than_the_column_is_hashed_and_still_counted(limits):
    limits["login_ip"] = "1/min"
    junk = "x" * 500
    assert _Scope().allow_key(junk)
    assert not _Scope().allow_key(junk)


# --- bursts from many threads (each its own database connection) --------------------------------


@pytest.mark.django_db(transaction=True)
def test_80_parallel_ingestions_of_one_user_create_at_most_the_60_per_minute_r217(limits):
    limits["ingest_user"] = "60/min"
    user = UserFactory()
    merchant = live_offer(cashback_value="1.00", monthly_cap="10000.00").merchant

    def ingest(n):
        body = {"external_id": f"burst-{n}", "user_id": str(user.pk), "merchant_id": str(merchant.pk),
                "amount": "10.00", "currency": "EUR"}
        return bearer_client(user).post(PURCHASES, body, format="json").status_code

    statuses = run_concurrently(ingest, 80)

    assert sorted(set(statuses)) == [201, 429], statuses
    assert statuses.count(201) == 60
    assert Purchase.objects.filter(user=user).count() == 60


@pytest.mark.django_db(transaction=True)
def test_30_parallel_wrong_passwords_for_one_email_are_judged_at_most_5_times_r217(limits):
    limits["login_email"] = "5/min"
    user = UserFactory()

    def guess(n):
        # From 30 different addresses: only the per-email counter stands in the way.
        response = APIClient().post(LOGIN, {"email": user.email, "password": f"Wr0ng!guess{n}"}, format="json",
                                    REMOTE_ADDR=f"10.1.0.{n + 1}")
        if response.status_code == 429:
            error_of(response, 429, "RATE_LIMITED")
            assert int(response["Retry-After"]) >= 1
        return response.status_code

    statuses = run_concurrently(guess, 30)

    assert statuses.count(401) == 5, statuses
    assert statuses.count(429) == 25
    # The email stays locked for the minute, even for its right password.
    response = APIClient().post(LOGIN, {"email": user.email, "password": TEST_PASSWORD}, format="json",
                                REMOTE_ADDR="10.2.0.1")
    assert response.status_code == 429


@pytest.mark.django_db(transaction=True)
def test_parallel_logins_from_one_ip_let_through_exactly_the_ip_limit_r217(limits):
    limits["login_ip"] = "10/min"

    def attempt(n):
        return APIClient().post(LOGIN, {"email": f"nobody{uuid.uuid4().hex}@example.com", "password": "x"},
                                format="json", REMOTE_ADDR="10.3.0.1").status_code

    statuses = run_concurrently(attempt, 25)

    assert statuses.count(401) == 10 and statuses.count(429) == 15, statuses
