"""Auth over HTTP (api.md §3, R-15…R-18, R-204, R-210, R-211, R-215): login, refresh rotation and
the abuse limits, through APIClient and the real URLconf."""

import uuid
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from accounts.models import RefreshTokenRecord, User
from accounts.tests.factories import TEST_PASSWORD, AdminFactory, UserFactory
from accounts.tests.helpers import (
    LOGIN,
    ME,
    REFRESH,
    USERS,
    claims,
    error_of,
    expired,
    sign,
    violations_of,
    with_foreign_signature,
    with_tampered_payload,
)
from accounts.tokens import RefreshToken
from clicknback.audit.models import AuditLog
from clicknback.throttling import CounterThrottle

pytestmark = pytest.mark.django_db

PAIR_FIELDS = {"access_token", "refresh_token", "token_type"}
INVALID_REFRESH_MESSAGE = "Invalid or expired refresh token"


def login(client, email, password=TEST_PASSWORD, slash="", **headers):
    return client.post(f"{LOGIN}{slash}", {"email": email, "password": password}, format="json", **headers)


def refresh(client, refresh_token, slash="", **headers):
    return client.post(f"{REFRESH}{slash}", {"refresh_token": refresh_token}, format="json", **headers)


def logged_in_pair(client, user) -> dict:
    response = login(client, user.email)
    assert response.status_code == 200, response.content
    return response.json()


def me_status(access_token: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token}")
    return client.get(ME).status_code


def record_of(raw_refresh_token: str) -> RefreshTokenRecord:
    return RefreshTokenRecord.objects.get(jti=claims(raw_refresh_token)["jti"])


# --- POST /api/v1/auth/login ------------------------------------------------------------------


def test_login_answers_a_token_pair_with_r16_r17_claims_and_records_the_refresh_token(api_client, user):
    response = login(api_client, user.email)

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == PAIR_FIELDS
    assert body["token_type"] == "bearer"

    access = claims(body["access_token"])
    assert access["token_type"] == "access"
    assert access["user_id"] == str(user.id)
    assert access["user_role"] == "user"
    assert access["exp"] - access["iat"] == 15 * 60
    assert access["jti"]

    refresh_claims = claims(body["refresh_token"])
    assert refresh_claims["token_type"] == "refresh"
    assert refresh_claims["user_id"] == str(user.id)
    assert refresh_claims["exp"] - refresh_claims["iat"] == 43200 * 60
    assert refresh_claims["jti"] != access["jti"]

    record = RefreshTokenRecord.objects.get()  # every issued refresh token is recorded
    assert record.jti == refresh_claims["jti"]
    assert record.user_id == user.id
    assert record.parent_id is None
    assert record.used_at is None and record.revoked_at is None
    assert record.expires_at == datetime.fromtimestamp(refresh_claims["exp"], tz=UTC)
    assert body["refresh_token"] not in str(RefreshTokenRecord.objects.values_list())  # jti only, never the token

    assert me_status(body["access_token"]) == 200


def test_login_of_an_admin_carries_role_admin(api_client):
    admin = AdminFactory()

    response = login(api_client, admin.email)

    assert response.status_code == 200
    assert claims(response.json()["access_token"])["user_role"] == "admin"


def test_login_is_not_audited_r211(api_client, user):
    before = AuditLog.objects.count()

    login(api_client, user.email)

    assert AuditLog.objects.count() == before


@pytest.mark.parametrize("typed", ["USER0@EXAMPLE.COM", "  user0@example.com  ", "User0@Example.Com"])
def test_login_looks_the_email_up_case_insensitively_and_trimmed_r10(api_client, typed):
    UserFactory(email="user0@example.com")

    response = login(api_client, typed)

    assert response.status_code == 200, response.content


def test_login_with_trailing_slash_is_the_same_endpoint(api_client, user):
    response = login(api_client, user.email, slash="/")

    assert response.status_code == 200, response.content


def test_login_ignores_a_garbage_authorization_header(api_client, user):
    response = login(api_client, user.email, HTTP_AUTHORIZATION="Bearer garbage")

    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"email", "password"}),
        ({"email": "a@example.com"}, {"password"}),
        ({"password": TEST_PASSWORD}, {"email"}),
        ({"email": "not-an-email", "password": TEST_PASSWORD}, {"email"}),
        ({"email": 42, "password": TEST_PASSWORD}, {"email"}),
        ({"email": None, "password": TEST_PASSWORD}, {"email"}),
        ({"email": "a@example.com", "password": 12345678}, {"password"}),
        ({"email": "a@example.com", "password": None}, {"password"}),
        ({"email": "a@example.com", "password": True}, {"password"}),
    ],
)
def test_login_bad_body_is_400_validation_error_naming_the_fields(api_client, body, fields):
    response = api_client.post(LOGIN, body, format="json")

    assert set(violations_of(response)) == fields
    assert not RefreshTokenRecord.objects.exists()


def test_login_unknown_email_and_wrong_password_answer_identically_r15(api_client, user):
    unknown = login(api_client, "nobody@example.com")
    wrong = login(api_client, user.email, password="Wr0ng!Password")

    error = error_of(unknown, 401, "INVALID_CREDENTIALS")
    assert error == {"code": "INVALID_CREDENTIALS", "message": "Invalid email or password.", "details": {}}
    assert wrong.status_code == 401
    assert wrong.json() == unknown.json()
    assert not RefreshTokenRecord.objects.exists()


def test_login_with_the_right_password_in_another_case_is_invalid_credentials(api_client, user):
    error_of(login(api_client, user.email, password=TEST_PASSWORD.upper()), 401, "INVALID_CREDENTIALS")


def test_login_of_an_inactive_account_with_the_right_password_is_401_user_inactive_r210(api_client):
    inactive = UserFactory(is_active=False)

    error = error_of(login(api_client, inactive.email), 401, "USER_INACTIVE")

    assert error["details"] == {}
    assert not RefreshTokenRecord.objects.exists()


def test_login_of_an_inactive_account_with_a_wrong_password_is_invalid_credentials_r210(api_client):
    inactive = UserFactory(is_active=False)

    error_of(login(api_client, inactive.email, password="Wr0ng!Password"), 401, "INVALID_CREDENTIALS")


def test_login_of_an_account_without_usable_password_is_invalid_credentials(api_client):
    services.create_account(email="nopass@example.com", password=None)

    error_of(login(api_client, "nopass@example.com", password="!"), 401, "INVALID_CREDENTIALS")


def test_login_get_is_405_even_without_a_token(api_client):
    # api.md §0.6: on anonymous endpoints a missing method is always 405.
    error = error_of(api_client.get(LOGIN), 405, "METHOD_NOT_ALLOWED")
    assert error["details"] == {"allowed": ["POST"]}


# --- POST /api/v1/auth/refresh: success -------------------------------------------------------


def test_refresh_rotates_the_pair_marks_the_old_token_used_and_keeps_the_family_r18(api_client, user):
    first = logged_in_pair(api_client, user)

    response = refresh(api_client, first["refresh_token"])

    assert response.status_code == 200, response.content
    second = response.json()
    assert set(second) == PAIR_FIELDS
    assert second["token_type"] == "bearer"
    assert second["refresh_token"] != first["refresh_token"]
    assert claims(second["refresh_token"])["jti"] != claims(first["refresh_token"])["jti"]
    assert claims(second["access_token"])["user_id"] == str(user.id)
    assert me_status(second["access_token"]) == 200

    old, new = record_of(first["refresh_token"]), record_of(second["refresh_token"])
    assert old.used_at is not None
    assert old.revoked_at is None
    assert new.used_at is None and new.revoked_at is None
    assert new.parent_id == old.jti
    assert new.family_id == old.family_id
    assert new.user_id == user.id


def test_refresh_keeps_the_familys_original_expiry_r18(api_client, user, settings):
    first = logged_in_pair(api_client, user)
    original_exp = claims(first["refresh_token"])["exp"]
    # Even with a longer lifetime configured later, a session never outlives the login's expiry.
    settings.REFRESH_TOKEN_LIFETIME_MINUTES = 2 * 43200

    second = refresh(api_client, first["refresh_token"]).json()
    third = refresh(api_client, second["refresh_token"]).json()

    assert claims(second["refresh_token"])["exp"] == original_exp
    assert claims(third["refresh_token"])["exp"] == original_exp
    assert record_of(third["refresh_token"]).expires_at == datetime.fromtimestamp(original_exp, tz=UTC)


def test_refresh_with_trailing_slash_and_garbage_authorization_header_works(api_client, user):
    pair = logged_in_pair(api_client, user)

    response = refresh(api_client, pair["refresh_token"], slash="/", HTTP_AUTHORIZATION="Bearer x")

    assert response.status_code == 200, response.content


def test_refresh_is_not_audited_r211(api_client, user):
    pair = logged_in_pair(api_client, user)
    before = AuditLog.objects.count()

    refresh(api_client, pair["refresh_token"])

    assert AuditLog.objects.count() == before


# --- POST /api/v1/auth/refresh: VALIDATION_ERROR ----------------------------------------------


@pytest.mark.parametrize(
    "body",
    [{}, {"refresh_token": ""}, {"refresh_token": None}, {"refresh_token": 123}, {"refresh_token": ["x"]},
     {"refresh_token": {"jti": "x"}}, {"token": "abc"}],
)
def test_refresh_missing_empty_or_non_string_token_is_400_r204(api_client, body):
    response = api_client.post(REFRESH, body, format="json")

    assert set(violations_of(response)) == {"refresh_token"}


# --- POST /api/v1/auth/refresh: INVALID_REFRESH_TOKEN -----------------------------------------


def invalid_refresh(response) -> dict:
    error = error_of(response, 401, "INVALID_REFRESH_TOKEN")
    assert INVALID_REFRESH_MESSAGE in error["message"]
    assert error["details"] == {}
    return error


@pytest.mark.parametrize("raw", [" ", "garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.x", "Bearer x"])
def test_refresh_malformed_token_is_401_invalid_refresh_token_r204(api_client, raw):
    invalid_refresh(refresh(api_client, raw))


def test_refresh_token_signed_by_another_key_is_invalid_and_not_consumed(api_client, user):
    pair = logged_in_pair(api_client, user)

    invalid_refresh(refresh(api_client, with_foreign_signature(pair["refresh_token"])))

    assert record_of(pair["refresh_token"]).used_at is None  # only a 200 consumes a token
    assert refresh(api_client, pair["refresh_token"]).status_code == 200


def test_refresh_token_with_tampered_payload_is_invalid(api_client, user):
    pair = logged_in_pair(api_client, user)

    forged = with_tampered_payload(pair["refresh_token"], exp=claims(pair["refresh_token"])["exp"] + 3600)

    invalid_refresh(refresh(api_client, forged))
    assert record_of(pair["refresh_token"]).used_at is None


def test_refresh_with_an_access_token_is_invalid_refresh_token(api_client, user):
    pair = logged_in_pair(api_client, user)

    invalid_refresh(refresh(api_client, pair["access_token"]))


def test_refresh_with_an_expired_recorded_token_is_invalid_refresh_token_not_expired_code(api_client, user):
    # v1 compat: an expired refresh token is INVALID_REFRESH_TOKEN (EXPIRED_REFRESH_TOKEN is never emitted).
    token = RefreshToken()
    token["user_id"] = str(user.id)
    expired(token)
    RefreshTokenRecord.objects.create(
        jti=token["jti"], user=user, family_id=uuid.uuid4(), issued_at=timezone.now() - timedelta(days=31),
        expires_at=datetime.fromtimestamp(token["exp"], tz=UTC),
    )

    invalid_refresh(refresh(api_client, str(token)))
    assert RefreshTokenRecord.objects.get(jti=token["jti"]).used_at is None


def test_refresh_expiry_is_checked_before_reuse_r18(api_client, user):
    # Order: format/signature/type -> expiry -> unknown -> already used.
    token = RefreshToken()
    token["user_id"] = str(user.id)
    expired(token)
    RefreshTokenRecord.objects.create(
        jti=token["jti"], user=user, family_id=uuid.uuid4(), issued_at=timezone.now() - timedelta(days=31),
        expires_at=datetime.fromtimestamp(token["exp"], tz=UTC), used_at=timezone.now() - timedelta(days=2),
    )

    invalid_refresh(refresh(api_client, str(token)))


def test_refresh_with_a_validly_signed_but_unrecorded_token_is_invalid_refresh_token(api_client, user):
    token = RefreshToken()
    token["user_id"] = str(user.id)

    invalid_refresh(refresh(api_client, str(token)))
    assert not RefreshTokenRecord.objects.exists()


def test_refresh_token_whose_user_id_claim_does_not_match_the_record_is_invalid(api_client, user):
    pair = logged_in_pair(api_client, user)
    other = UserFactory()
    payload = {**claims(pair["refresh_token"]), "user_id": str(other.id)}

    invalid_refresh(refresh(api_client, sign(payload)))
    assert record_of(pair["refresh_token"]).used_at is None


@pytest.mark.parametrize("missing", ["jti", "user_id", "exp", "token_type"])
def test_refresh_token_missing_a_required_claim_is_invalid_r17(api_client, user, missing):
    pair = logged_in_pair(api_client, user)
    payload = claims(pair["refresh_token"])
    del payload[missing]

    invalid_refresh(refresh(api_client, sign(payload)))


# --- POST /api/v1/auth/refresh: TOKEN_REVOKED (R-18) ------------------------------------------


def revoked(response) -> dict:
    error = error_of(response, 401, "TOKEN_REVOKED")
    assert "revoked" in error["message"]
    assert error["details"] == {}
    return error


def test_refresh_reuse_is_token_revoked_and_revokes_the_descendant_family_r18(api_client, user):
    first = logged_in_pair(api_client, user)
    second = refresh(api_client, first["refresh_token"]).json()

    revoked(refresh(api_client, first["refresh_token"]))  # the thief (or the victim) replays it

    assert record_of(second["refresh_token"]).revoked_at is not None
    revoked(refresh(api_client, second["refresh_token"]))  # the descendant died with it


def test_refresh_reuse_revokes_descendants_several_generations_down_r18(api_client, user):
    first = logged_in_pair(api_client, user)
    second = refresh(api_client, first["refresh_token"]).json()
    third = refresh(api_client, second["refresh_token"]).json()

    revoked(refresh(api_client, first["refresh_token"]))

    revoked(refresh(api_client, third["refresh_token"]))


def test_reuse_revokes_only_its_own_family_not_another_session_r18(api_client, user):
    laptop = logged_in_pair(api_client, user)
    phone = logged_in_pair(api_client, user)
    refresh(api_client, laptop["refresh_token"])

    revoked(refresh(api_client, laptop["refresh_token"]))

    assert refresh(api_client, phone["refresh_token"]).status_code == 200


def test_deactivation_revokes_refresh_tokens_r18_r23(api_client, user):
    operator = AdminFactory()
    pair = logged_in_pair(api_client, user)
    other_session = logged_in_pair(api_client, user)

    services.set_user_active(user_id=user.id, active=False, actor_user=operator)

    assert all(r.revoked_at is not None for r in RefreshTokenRecord.objects.filter(user=user))
    revoked(refresh(api_client, pair["refresh_token"]))

    # Reactivation restores access by login, not by the revoked tokens.
    services.set_user_active(user_id=user.id, active=True, actor_user=operator)
    revoked(refresh(api_client, other_session["refresh_token"]))
    assert login(api_client, user.email).status_code == 200


def test_refresh_of_an_inactive_user_is_user_inactive_and_does_not_consume_the_token_r18(api_client, user):
    pair = logged_in_pair(api_client, user)
    User.objects.filter(pk=user.pk).update(is_active=False)  # no revocation: only activity is checked

    error = error_of(refresh(api_client, pair["refresh_token"]), 401, "USER_INACTIVE")

    assert error["details"] == {}
    assert record_of(pair["refresh_token"]).used_at is None
    User.objects.filter(pk=user.pk).update(is_active=True)
    assert refresh(api_client, pair["refresh_token"]).status_code == 200


def test_access_token_of_a_deactivated_user_fails_on_the_next_request_r23(api_client, user):
    pair = logged_in_pair(api_client, user)

    services.set_user_active(user_id=user.id, active=False, actor_user=AdminFactory())

    assert me_status(pair["access_token"]) == 401


def test_refresh_get_is_405(api_client):
    error = error_of(api_client.get(REFRESH), 405, "METHOD_NOT_ALLOWED")
    assert error["details"] == {"allowed": ["POST"]}


# --- abuse limits ----------------------------------------------------------------------


@pytest.fixture
def throttling(settings):
    settings.THROTTLING_ENABLED = True
    settings.THROTTLE_RATES = {
        "login_ip": "100/min", "login_email": "100/min", "register_ip": "100/min", "refresh_ip": "100/min",
        "ingest_user": "100/min", "payout_user": "100/hour",
    }
    return settings.THROTTLE_RATES


def rate_limited(response) -> int:
    error = error_of(response, 429, "RATE_LIMITED")
    seconds = error["details"]["retry_after_seconds"]
    assert set(error["details"]) == {"retry_after_seconds"}
    assert isinstance(seconds, int) and 1 <= seconds <= 60
    assert response["Retry-After"] == str(seconds)
    return seconds


def test_login_is_limited_per_ip_r215(api_client, user, throttling):
    throttling["login_ip"] = "2/min"

    assert login(api_client, user.email).status_code == 200
    assert login(api_client, "other@example.com").status_code == 401  # failures count too

    rate_limited(login(api_client, user.email))
    # Another IP is not affected.
    assert login(api_client, user.email, REMOTE_ADDR="10.9.8.7").status_code == 200


def test_login_is_limited_per_email_whatever_the_ip_and_case_r215(api_client, user, throttling):
    throttling["login_email"] = "2/min"

    assert login(api_client, user.email, REMOTE_ADDR="10.0.0.1").status_code == 200
    assert login(api_client, user.email.upper(), password="Wr0ng!pass", REMOTE_ADDR="10.0.0.2").status_code == 401

    rate_limited(login(api_client, f" {user.email} ", REMOTE_ADDR="10.0.0.3"))
    assert RefreshTokenRecord.objects.count() == 1  # the refused attempt issued nothing
    # Another email is still served from the same IPs.
    assert login(api_client, "someone.else@example.com", REMOTE_ADDR="10.0.0.3").status_code == 401


def test_login_limit_per_email_holds_for_the_longest_allowed_email_r215(api_client, throttling):
    # The counter's key must fit the shared cache whatever the email's length (254 characters here).
    throttling["login_email"] = "2/min"
    email = "a" * 64 + "@" + ".".join(["b" * 63, "c" * 63, "d" * 58]) + ".io"
    long_user = UserFactory(email=email)

    assert login(api_client, email, REMOTE_ADDR="10.0.0.1").status_code == 200
    assert login(api_client, email, REMOTE_ADDR="10.0.0.2").status_code == 200

    rate_limited(login(api_client, email.upper(), REMOTE_ADDR="10.0.0.3"))
    assert RefreshTokenRecord.objects.filter(user=long_user).count() == 2


def test_register_is_limited_per_ip_r215(api_client, throttling):
    throttling["register_ip"] = "2/min"

    for n in range(2):
        body = {"email": f"r{n}@example.com", "password": "Str0ng!Passw0rd"}
        assert api_client.post(USERS, body, format="json").status_code == 201

    body = {"email": "r9@example.com", "password": "Str0ng!Passw0rd"}
    rate_limited(api_client.post(USERS, body, format="json"))
    assert not User.objects.filter(email="r9@example.com").exists()


def test_refresh_is_limited_per_ip_r215(api_client, user, throttling):
    throttling["refresh_ip"] = "2/min"
    pair = logged_in_pair(api_client, user)

    second = refresh(api_client, pair["refresh_token"]).json()
    refresh(api_client, "garbage")

    rate_limited(refresh(api_client, second["refresh_token"]))
    assert record_of(second["refresh_token"]).used_at is None  # a 429 consumes nothing


def test_a_client_that_waits_retry_after_seconds_is_served_again_r215(api_client, user, throttling):
    throttling["login_ip"] = "2/min"
    clock = [1_000_000.0]
    with mock.patch.object(CounterThrottle, "timer", mock.Mock(side_effect=lambda: clock[0])):
        login(api_client, user.email)
        clock[0] += 0.4
        login(api_client, user.email)
        clock[0] += 0.2

        seconds = rate_limited(login(api_client, user.email))
        clock[0] += seconds

        assert login(api_client, user.email).status_code == 200


def test_limits_are_off_when_throttling_is_disabled(api_client, user, settings):
    settings.THROTTLING_ENABLED = False
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "login_ip": "1/min", "login_email": "1/min"}

    for _ in range(3):
        assert login(api_client, user.email).status_code == 200
