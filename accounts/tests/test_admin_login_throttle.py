"""R-218: the back-office login is throttled like the API login — the same `login_ip` and
`login_email` counters — and hashes no password once over the limit."""

from unittest import mock

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.tests.factories import TEST_PASSWORD, AdminFactory
from clicknback.testing import CheapArgon2PasswordHasher, error_of

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = "/admin/login/"
API_LOGIN = "/api/v1/auth/login"


@pytest.fixture
def limits(settings):
    settings.THROTTLING_ENABLED = True
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "login_ip": "1000/min", "login_email": "5/min"}
    return settings.THROTTLE_RATES


def admin_login(email, password, ip="10.5.0.1"):
    client = Client(REMOTE_ADDR=ip)
    return client, client.post(ADMIN_LOGIN, {"username": email, "password": password, "next": "/admin/"})


def api_login(email, password, ip="10.6.0.1"):
    return APIClient().post(API_LOGIN, {"email": email, "password": password}, format="json", REMOTE_ADDR=ip)


def form_errors(response) -> list[str]:
    assert response.status_code == 200
    return [str(e) for e in response.context["form"].non_field_errors()]


def test_api_failures_lock_the_back_office_login_of_that_email_and_no_password_is_hashed_r218(limits):
    operator = AdminFactory()
    for n in range(5):
        assert api_login(operator.email, f"Wr0ng!{n}", ip=f"10.6.0.{n}").status_code == 401

    with mock.patch.object(CheapArgon2PasswordHasher, "verify") as verify, \
            mock.patch.object(CheapArgon2PasswordHasher, "encode") as encode:
        client, response = admin_login(operator.email.upper(), TEST_PASSWORD)

    [message] = form_errors(response)
    assert message.startswith("Too many login attempts. Try again in ") and message.endswith(" seconds.")
    assert not verify.called and not encode.called
    assert "_auth_user_id" not in client.session


def test_back_office_failures_count_against_the_api_login_of_that_email_r218(limits):
    operator = AdminFactory()
    for n in range(5):
        _, response = admin_login(operator.email, f"Wr0ng!{n}", ip=f"10.5.0.{n}")
        assert "Too many" not in " ".join(form_errors(response))

    response = api_login(operator.email, TEST_PASSWORD)

    error = error_of(response, 429, "RATE_LIMITED")
    assert response["Retry-After"] == str(error["details"]["retry_after_seconds"])


def test_back_office_attempts_from_one_address_share_the_api_login_ip_counter_r218(limits):
    limits["login_ip"] = "3/min"
    operator = AdminFactory()
    assert api_login("someone@example.com", "Wr0ng!1", ip="10.7.0.1").status_code == 401
    for n in range(2):
        admin_login(f"nobody{n}@example.com", "Wr0ng!1", ip="10.7.0.1")

    _, response = admin_login(operator.email, TEST_PASSWORD, ip="10.7.0.1")

    assert form_errors(response)[0].startswith("Too many login attempts")
    # Another address is not affected.
    client, response = admin_login(operator.email, TEST_PASSWORD, ip="10.7.0.2")
    assert response.status_code == 302 and "_auth_user_id" in client.session


def test_under_the_limits_the_back_office_login_works_as_before(limits):
    operator = AdminFactory()
    _, refused = admin_login(operator.email, "Wr0ng!1")
    assert "Too many" not in " ".join(form_errors(refused))

    client, response = admin_login(operator.email, TEST_PASSWORD)

    assert response.status_code == 302 and "_auth_user_id" in client.session
