"""Issue 7: Argon2id at OWASP's parameters; hashes made with Django's heavier defaults are
upgraded at the user's next successful login."""

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher, identify_hasher, make_password

from accounts.models import User
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "Correct-Horse-9"
PRODUCTION_HASHERS = ["accounts.hashers.OwaspArgon2PasswordHasher",
                      "django.contrib.auth.hashers.PBKDF2PasswordHasher"]


def _params(encoded: str) -> dict:
    return identify_hasher(encoded).decode(encoded)


def test_new_passwords_are_hashed_with_argon2id_19_mib_2_iterations_1_lane(settings):
    settings.PASSWORD_HASHERS = PRODUCTION_HASHERS
    params = _params(make_password(PASSWORD))
    assert params["algorithm"] == "argon2"
    assert (params["memory_cost"], params["time_cost"], params["parallelism"]) == (19 * 1024, 2, 1)
    assert make_password(PASSWORD).startswith("argon2$argon2id$")


def test_a_hash_made_with_djangos_defaults_is_accepted_and_upgraded_at_the_next_login(settings, api_client):
    settings.PASSWORD_HASHERS = PRODUCTION_HASHERS
    user = UserFactory()
    old = Argon2PasswordHasher().encode(PASSWORD, Argon2PasswordHasher().salt())
    assert _params(old)["memory_cost"] == 102400  # Django's default
    User.objects.filter(pk=user.pk).update(password=old)

    response = api_client.post("/api/v1/auth/login", {"email": user.email, "password": PASSWORD}, format="json")

    assert response.status_code == 200, response.json()
    upgraded = User.objects.get(pk=user.pk).password
    assert upgraded != old
    assert (_params(upgraded)["memory_cost"], _params(upgraded)["parallelism"]) == (19 * 1024, 1)


def test_a_wrong_password_does_not_rewrite_an_old_hash(settings, api_client):
    settings.PASSWORD_HASHERS = PRODUCTION_HASHERS
    user = UserFactory()
    old = Argon2PasswordHasher().encode(PASSWORD, Argon2PasswordHasher().salt())
    User.objects.filter(pk=user.pk).update(password=old)
    response = api_client.post("/api/v1/auth/login", {"email": user.email, "password": "Wrong-Horse-9"}, format="json")
    assert response.status_code == 401
    assert User.objects.get(pk=user.pk).password == old
