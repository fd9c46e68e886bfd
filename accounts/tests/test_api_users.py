"""Users over HTTP (api.md §4, R-10…R-13, R-19, R-208, R-209): registration and /users/me,
through APIClient and the real URLconf."""

import uuid
from decimal import Decimal

import jwt
import pytest
from rest_framework.test import APIClient

from accounts.models import RefreshTokenRecord, Role, User
from accounts.tests.factories import TEST_PASSWORD, UserFactory
from accounts.tests.helpers import (
    DATETIME_PATTERN,
    ME,
    USERS,
    claims,
    error_of,
    expired,
    sign,
    violations_of,
    with_foreign_signature,
    with_tampered_payload,
)
from accounts.tokens import AccessToken, RefreshToken
from clicknback.audit.models import AuditAction, AuditLog
from wallets.models import Wallet

pytestmark = pytest.mark.django_db

STRONG = "Str0ng!Passw0rd"
USER_FIELDS = {"id", "email", "active", "role", "created_at"}


def register(client, slash="", **body):
    return client.post(f"{USERS}{slash}", body, format="json")


# --- POST /api/v1/users: success --------------------------------------------------------------


def test_register_answers_201_user_and_stores_hashed_password_wallet_and_audit_r13(api_client):
    response = register(api_client, email="New.User@Example.com", password=STRONG)

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == USER_FIELDS
    assert body["id"] == str(uuid.UUID(body["id"]))  # lowercase hyphenated
    assert body["email"] == "New.User@Example.com"  # stored as submitted
    assert body["active"] is True
    assert body["role"] == "user"
    assert DATETIME_PATTERN.match(body["created_at"])
    assert STRONG not in response.content.decode()

    user = User.objects.get(pk=body["id"])
    assert user.email == "New.User@Example.com"
    assert (user.role, user.is_active) == (Role.USER, True)
    assert user.password != STRONG and user.check_password(STRONG)

    wallet = Wallet.objects.get(user=user)  # created in the same transaction
    assert (wallet.pending_balance, wallet.available_balance, wallet.paid_balance, wallet.clawback_balance) == (
        Decimal("0.00"),) * 4

    audit = AuditLog.objects.get(action=AuditAction.USER_REGISTERED, resource_id=body["id"])
    assert audit.resource_type == "user"
    assert audit.actor_type == "user"  # self-registration, actor is the new user
    assert audit.actor_id == user.id
    assert audit.outcome == "success"
    assert audit.details == {"email": "New.User@Example.com", "role": "user", "active": True}
    assert STRONG not in str(audit.details)
    assert not RefreshTokenRecord.objects.filter(user=user).exists()  # registering is not logging in


def test_register_with_trailing_slash_is_the_same_endpoint_without_redirect(api_client):
    response = register(api_client, slash="/", email="slash@example.com", password=STRONG)

    assert response.status_code == 201, response.content
    assert User.objects.filter(email="slash@example.com").exists()


@pytest.mark.parametrize("extra", [{"role": "admin"}, {"active": False}, {"role": "admin", "active": False}])
def test_register_ignores_role_and_active_in_the_body_r13(api_client, extra):
    response = register(api_client, email="sneaky@example.com", password=STRONG, **extra)

    assert response.status_code == 201, response.content
    assert response.json()["role"] == "user"
    assert response.json()["active"] is True
    user = User.objects.get(email="sneaky@example.com")
    assert (user.role, user.is_active) == (Role.USER, True)


def test_register_ignores_unknown_fields_including_a_chosen_id(api_client):
    chosen = str(uuid.uuid4())
    response = register(api_client, email="x@example.com", password=STRONG, id=chosen, nickname="x")

    assert response.status_code == 201, response.content
    assert response.json()["id"] != chosen
    assert not User.objects.filter(pk=chosen).exists()


def test_register_trims_surrounding_whitespace_of_the_email_r10(api_client):
    response = register(api_client, email="  Trim.Me@Example.com \t", password=STRONG)

    assert response.status_code == 201, response.content
    assert response.json()["email"] == "Trim.Me@Example.com"
    assert User.objects.get().email == "Trim.Me@Example.com"


def test_register_never_trims_the_password_r208(api_client):
    response = register(api_client, email="spaces@example.com", password="  Abcdef1  ")

    assert response.status_code == 201, response.content
    user = User.objects.get(email="spaces@example.com")
    assert user.check_password("  Abcdef1  ")
    assert not user.check_password("Abcdef1")


def test_register_accepts_a_128_character_password_and_a_254_character_email(api_client):
    password = "Aa1!" + "x" * 124
    email = "a" * 64 + "@" + ".".join(["b" * 63, "c" * 63, "d" * 58]) + ".io"
    assert (len(password), len(email)) == (128, 254)

    response = register(api_client, email=email, password=password)

    assert response.status_code == 201, response.content
    assert User.objects.get().check_password(password)


def test_register_ignores_a_garbage_authorization_header(api_client):
    # api.md §0.6: anonymous endpoints ignore any Authorization header.
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")

    response = register(api_client, email="anon@example.com", password=STRONG)

    assert response.status_code == 201, response.content


# --- POST /api/v1/users: VALIDATION_ERROR -----------------------------------------------------


def test_register_without_fields_reports_every_missing_field_at_once_r209(api_client):
    response = register(api_client)

    assert set(violations_of(response)) == {"email", "password"}
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": 12345, "password": STRONG}, "email"),
        ({"email": ["a@b.io"], "password": STRONG}, "email"),
        ({"email": {"a": "b"}, "password": STRONG}, "email"),
        ({"email": True, "password": STRONG}, "email"),
        ({"email": None, "password": STRONG}, "email"),
        ({"email": "ok@example.com", "password": 12345678}, "password"),
        ({"email": "ok@example.com", "password": None}, "password"),
        ({"email": "ok@example.com", "password": ["Str0ng!Passw0rd"]}, "password"),
        ({"email": "", "password": STRONG}, "email"),
        ({"email": "   ", "password": STRONG}, "email"),
        ({"email": "ok@example.com", "password": ""}, "password"),
    ],
)
def test_register_wrong_type_null_or_empty_is_400_naming_the_field_r207(api_client, body, field):
    response = api_client.post(USERS, body, format="json")

    assert set(violations_of(response)) == {field}
    assert not User.objects.exists()
    assert not AuditLog.objects.exists()  # refused API calls write no audit row


@pytest.mark.parametrize(
    "email",
    ["not-an-email", "a@b", "a b@example.com", "bücher@example.com", "a@bücher.de", "a@@example.com"],
)
def test_register_bad_or_non_ascii_email_is_400_r208(api_client, email):
    response = register(api_client, email=email, password=STRONG)

    assert set(violations_of(response)) == {"email"}
    assert not User.objects.exists()


def test_register_255_character_email_is_400_r10(api_client):
    email = "a" * 65 + "@" + ".".join(["b" * 63, "c" * 63, "d" * 58]) + ".io"
    assert len(email) == 255

    response = register(api_client, email=email, password=STRONG)

    assert set(violations_of(response)) == {"email"}


def test_register_129_character_password_is_400_validation_error_not_complexity_r11(api_client):
    response = register(api_client, email="long@example.com", password="Aa1!" + "x" * 125)

    assert set(violations_of(response)) == {"password"}
    assert not User.objects.exists()


def test_register_field_errors_come_before_complexity_and_are_reported_together_r209(api_client):
    # A bad email and a weak password: VALIDATION_ERROR for the email only (complexity comes later).
    response = register(api_client, email="not-an-email", password="weak")
    assert set(violations_of(response)) == {"email"}

    # A bad email and a too-long password: both violations in one answer.
    response = register(api_client, email="not-an-email", password="a" * 129)
    assert set(violations_of(response)) == {"email", "password"}


# --- POST /api/v1/users: PASSWORD_NOT_COMPLEX_ENOUGH -----------------------------------------


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Ab1!", "needs at least 8 characters"),
        ("abcdefg1!", "needs an uppercase letter"),
        ("ABCDEFG1!", "needs a lowercase letter"),
        ("Abcdefgh!", "needs a digit"),
        ("Abcdefgh1", "needs a character that is not a letter or a digit"),
        ("abc", "needs at least 8 characters"),  # first failure only
    ],
)
def test_register_weak_password_is_400_password_not_complex_enough_with_first_reason_r11(
    api_client, password, reason
):
    response = register(api_client, email="weak@example.com", password=password)

    error = error_of(response, 400, "PASSWORD_NOT_COMPLEX_ENOUGH")
    assert error["details"] == {"violations": [{"field": "password", "reason": reason}]}
    assert not User.objects.exists()
    assert not AuditLog.objects.exists()


def test_register_complexity_is_checked_before_uniqueness_r12(api_client):
    UserFactory(email="taken@example.com")

    response = register(api_client, email="taken@example.com", password="weakpassword")

    error_of(response, 400, "PASSWORD_NOT_COMPLEX_ENOUGH")


# --- POST /api/v1/users: EMAIL_ALREADY_REGISTERED ---------------------------------------------


@pytest.mark.parametrize("submitted", ["bob@example.com", "BOB@EXAMPLE.COM", "Bob@example.com", "  bob@Example.com "])
def test_register_taken_email_in_any_case_is_409_naming_the_email_r10(api_client, submitted):
    existing = UserFactory(email="Bob@Example.com")
    audit_rows = AuditLog.objects.count()

    response = register(api_client, email=submitted, password=STRONG)

    error = error_of(response, 409, "EMAIL_ALREADY_REGISTERED")
    assert submitted.strip() in error["message"]
    assert error["details"] == {"email": submitted.strip()}
    assert list(User.objects.all()) == [existing]
    assert AuditLog.objects.count() == audit_rows


# --- GET /api/v1/users/me ----------------------------------------------------------------------


@pytest.mark.parametrize("slash", ["", "/"])
def test_me_answers_the_callers_user_representation(user_client, slash):
    response = user_client.get(f"{ME}{slash}")

    assert response.status_code == 200, response.content
    user = user_client.account
    assert response.json() == {
        "id": str(user.id),
        "email": user.email,
        "active": True,
        "role": "user",
        "created_at": user.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


def test_me_of_an_admin_shows_role_admin(admin_client):
    response = admin_client.get(ME)

    assert response.status_code == 200
    assert response.json()["role"] == "admin"


def test_me_shows_the_current_database_role_not_the_token_claim_r19(user):
    token = AccessToken.for_account(user)
    token["user_role"] = "admin"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = client.get(ME)

    assert response.status_code == 200
    assert response.json()["role"] == "user"


def test_me_works_with_the_access_token_from_login(api_client, user):
    login = api_client.post("/api/v1/auth/login", {"email": user.email, "password": TEST_PASSWORD}, format="json")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {login.json()['access_token']}")

    response = api_client.get(ME)

    assert response.status_code == 200
    assert response.json()["id"] == str(user.id)


# --- GET /api/v1/users/me: AUTH-401 ------------------------------------------------------------


def get_me(authorization: str | None):
    client = APIClient()
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    return client.get(ME)


def auth_error(response, code: str) -> dict:
    error = error_of(response, 401, code)
    assert response["WWW-Authenticate"] == "Bearer"  # api.md §0.2
    return error


def test_me_without_authorization_header_is_401_invalid_token(db):
    error = auth_error(get_me(None), "INVALID_TOKEN")
    assert error["details"] == {}


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer ", "Token abc", "Basic dXNlcjpwYXNz", "abc", "Bearer a b", "Bearer not-a-jwt",
     "Bearer a.b.c", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x"],
)
def test_me_with_a_malformed_authorization_is_401_invalid_token(db, header):
    error = auth_error(get_me(header), "INVALID_TOKEN")
    assert error["details"] == {}


def test_me_with_another_scheme_and_a_valid_token_is_401_invalid_token(user):
    auth_error(get_me(f"Token {AccessToken.for_account(user)}"), "INVALID_TOKEN")


def test_me_with_a_token_signed_by_another_key_is_401_invalid_token(user):
    auth_error(get_me(f"Bearer {with_foreign_signature(str(AccessToken.for_account(user)))}"), "INVALID_TOKEN")


def test_me_with_a_tampered_payload_is_401_invalid_token(user):
    other = UserFactory()
    forged = with_tampered_payload(str(AccessToken.for_account(user)), user_id=str(other.id))

    auth_error(get_me(f"Bearer {forged}"), "INVALID_TOKEN")


def test_me_with_an_unsigned_alg_none_token_is_401_invalid_token(user):
    unsigned = jwt.encode(claims(str(AccessToken.for_account(user))), None, algorithm="none")

    auth_error(get_me(f"Bearer {unsigned}"), "INVALID_TOKEN")


def test_me_with_an_expired_access_token_is_401_expired_token(user):
    token = expired(AccessToken.for_account(user))

    error = auth_error(get_me(f"Bearer {token}"), "EXPIRED_TOKEN")
    assert error["details"] == {}


def test_me_with_a_refresh_token_as_access_token_is_401_invalid_token(user):
    refresh = RefreshToken()
    refresh["user_id"] = str(user.id)

    auth_error(get_me(f"Bearer {refresh}"), "INVALID_TOKEN")


def test_me_with_a_validly_signed_token_for_an_unknown_user_is_401_invalid_token_r19(db):
    ghost = User(id=uuid.uuid4(), email="ghost@example.com", role=Role.USER)

    error = auth_error(get_me(f"Bearer {AccessToken.for_account(ghost)}"), "INVALID_TOKEN")
    assert error["details"] == {}


@pytest.mark.parametrize(
    "changes",
    [
        {"user_id": "42"},
        {"user_id": 42},
        {"user_id": None},
        {"user_id": "not-a-uuid"},
        {"user_id": str(uuid.uuid4()).replace("-", "")},
    ],
)
def test_me_with_a_signed_token_whose_user_id_is_not_a_uuid_is_401_invalid_token(user, changes):
    payload = {**claims(str(AccessToken.for_account(user))), **changes}

    auth_error(get_me(f"Bearer {sign(payload)}"), "INVALID_TOKEN")


@pytest.mark.parametrize("missing", ["user_id", "exp", "jti", "token_type", "iat"])
def test_me_with_a_signed_token_missing_a_required_claim_is_401_invalid_token_r16(user, missing):
    payload = claims(str(AccessToken.for_account(user)))
    del payload[missing]

    auth_error(get_me(f"Bearer {sign(payload)}"), "INVALID_TOKEN")


def test_me_of_an_inactive_user_is_401_user_inactive_with_user_id_r19(user):
    token = AccessToken.for_account(user)
    User.objects.filter(pk=user.pk).update(is_active=False)

    error = auth_error(get_me(f"Bearer {token}"), "USER_INACTIVE")
    assert error["details"] == {"user_id": str(user.id)}


def test_me_post_with_a_valid_token_is_405_and_without_token_401(user_client, api_client):
    # api.md §0.6: a missing method is 401 without a valid token, 405 with one.
    error = error_of(user_client.post(ME, {}, format="json"), 405, "METHOD_NOT_ALLOWED")
    assert error["details"] == {"allowed": ["GET"]}

    auth_error(api_client.post(ME, {}, format="json"), "INVALID_TOKEN")
