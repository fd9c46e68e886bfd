"""Shared fixtures: API clients for anonymous, user and admin callers, and a logged-in back-office
client, on a real PostgreSQL. Shared helper functions live in clicknback/testing.py."""

import pytest


def pytest_configure(config):
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] not in ("django.db.backends.postgresql", "clicknback.postgresql"):
        raise pytest.UsageError(
            "The suite runs on PostgreSQL (row locks, partial indexes): set DATABASE_URL or use `make test`."
        )


@pytest.fixture(autouse=True)
def _test_settings(settings):
    # Argon2 stays the hasher; a cheaper cost keeps hundreds of registrations fast.
    settings.PASSWORD_HASHERS = ["clicknback.testing.CheapArgon2PasswordHasher"]
    settings.THROTTLING_ENABLED = False


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def user(db):
    from accounts.tests.factories import UserFactory

    return UserFactory()


@pytest.fixture
def admin_user(db):
    from accounts.tests.factories import AdminFactory

    return AdminFactory()


def bearer_client(account):
    from rest_framework.test import APIClient

    from accounts.tokens import AccessToken

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_account(account)}")
    client.account = account
    return client


@pytest.fixture
def user_client(user):
    return bearer_client(user)


@pytest.fixture
def admin_client(admin_user):
    return bearer_client(admin_user)


@pytest.fixture
def operator():
    """The admin who works the back-office in the admin tests (a module may override it)."""
    from accounts.tests.factories import AdminFactory

    return AdminFactory()


@pytest.fixture
def office(operator):
    """Django's test client, logged in to the back-office (/admin/) as `operator`."""
    from django.test import Client

    client = Client()
    client.force_login(operator)
    return client
