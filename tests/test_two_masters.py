"""Two app processes, one database (what a load-balanced deployment does): two gunicorn masters on two
ports, and requests split between them at the same instant. Throttles (R-215, R-217), payout
Idempotency-Keys (R-140…R-146) and refresh rotation (R-18, R-220) hold across them, because each is
decided by the database, never by a process's memory."""

import threading

import pytest

from accounts.tests.factories import TEST_PASSWORD, UserFactory
from payouts.models import Payout
from payouts.tests.factories import give_available
from tests.e2e_server import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def masters(django_db_setup, django_db_blocker):
    """Started once for the module; each test's data is its own (flushed after it, transaction=True)."""
    env = {"THROTTLING_ENABLED": "true",
           "THROTTLE_RATES": "login_ip=1000/min,login_email=5/min,refresh_ip=1000/min,payout_user=1000/hour"}
    with django_db_blocker.unblock():
        first = LiveServer(env, log_name=".e2e-master-a.log")
        try:
            second = LiveServer(env, log_name=".e2e-master-b.log")
        except BaseException:
            first.stop()
            raise
    yield first, second
    first.stop()
    second.stop()


def at_once(n: int, call) -> list:
    """`call(i)` for i in 0…n-1, each in its own thread, released together."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        barrier.wait(timeout=30)
        results[i] = call(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
        assert not thread.is_alive()
    return results


def test_the_login_email_limit_holds_across_two_app_processes_r217(masters):
    user = UserFactory()

    statuses = at_once(20, lambda i: masters[i % 2].request(
        "POST", "/api/v1/auth/login", {"email": user.email, "password": f"Wr0ng!{i}"})[0])

    assert statuses.count(401) == 5 and statuses.count(429) == 15, statuses


def test_one_idempotency_key_sent_to_both_processes_at_once_makes_one_payout_r142(masters):
    user = UserFactory()
    give_available(user, "100.00")
    status, tokens, _ = masters[1].request("POST", "/api/v1/auth/login",
                                           {"email": user.email, "password": TEST_PASSWORD})
    assert status == 200
    token = tokens["access_token"]  # signed with the servers' key, not the suite's
    body = {"amount": "30.00", "method": "bank_transfer", "details": {"iban": "DE89370400440532013000"}}

    answers = at_once(10, lambda i: masters[i % 2].request(
        "POST", "/api/v1/users/me/payouts", body, token=token, headers={"Idempotency-Key": "two-masters-1"}))

    assert Payout.objects.filter(user=user).count() == 1, answers
    payout_id = str(Payout.objects.get(user=user).pk)
    # the others waited on the key's unique index and replayed the first answer.
    assert [status for status, _, _ in answers] == [201] * 10, answers
    assert {payload["id"] for _, payload, _ in answers} == {payout_id}
    assert sum(headers.get("Idempotent-Replayed") == "true" for _, _, headers in answers) == 9


def test_one_refresh_token_sent_to_both_processes_at_once_rotates_once_r18(masters):
    user = UserFactory()
    status, tokens, _ = masters[0].request("POST", "/api/v1/auth/login",
                                           {"email": user.email, "password": TEST_PASSWORD})
    assert status == 200

    answers = at_once(10, lambda i: masters[i % 2].request(
        "POST", "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}))

    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [200] + [401] * 9, answers
    assert {payload["error"]["code"] for status, payload, _ in answers if status == 401} == {"TOKEN_REVOKED"}
