"""Cross-cutting HTTP behaviour (api.md §0, §2; R-207, R-212…R-214): the error envelope everywhere,
the order of checks, body parsing, decimals, pagination, request ids, 500s, health and settings."""

import json
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.db import OperationalError, connection
from django.db.backends.utils import CursorWrapper
from rest_framework.test import APIClient

from accounts.tests.helpers import error_of, violations_of
from clicknback import views as health_views
from clicknback.fields import parse_uuid
from merchants.models import Merchant
from merchants.tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db

MERCHANTS = "/api/v1/merchants"
USERS = "/api/v1/users"
MAX_BYTES = 65536
BASE_DIR = Path(__file__).resolve().parent.parent.parent


def client_for(account=None, **kwargs) -> APIClient:
    from accounts.tokens import AccessToken

    client = APIClient(**kwargs)
    if account is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_account(account)}")
    return client


def post_raw(client, path, body: str | bytes, content_type="application/json", **extra):
    return client.generic("POST", path, body, content_type=content_type, **extra)


# --- 404 for unknown routes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/nope"),
        ("get", "/api/v1/nope"),
        ("get", "/api/v1"),
        ("post", "/api/v1/nope"),
        ("delete", "/api/v1/users/me/extra"),
        ("get", "/api/v2/users/me"),
        ("get", "/health"),
        ("get", "/health/live/extra"),
    ],
)
def test_unknown_route_is_404_not_found_envelope_even_without_token(api_client, method, path):
    # api.md §0.6: unknown route (404) is answered before authentication (401).
    response = getattr(api_client, method)(path)

    error = error_of(response, 404, "NOT_FOUND")
    assert error["details"] == {}


def test_unknown_route_is_a_json_envelope_even_with_debug_on(api_client, settings):
    settings.DEBUG = True  # Django would answer its HTML technical 404 page

    error_of(api_client.get("/api/v1/nope"), 404, "NOT_FOUND")


def test_unknown_route_with_a_bad_token_is_still_404(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer garbage")

    error_of(api_client.get("/api/v1/nope"), 404, "NOT_FOUND")


# --- 405 and the order of checks (api.md §0.6) --------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("get", USERS, ["POST"]),
        ("delete", USERS + "/", ["POST"]),
        ("put", "/api/v1/auth/login", ["POST"]),
        ("patch", "/api/v1/auth/refresh", ["POST"]),
        ("post", "/health/live", ["GET"]),
        ("delete", "/health/ready/", ["GET"]),
    ],
)
def test_anonymous_endpoint_with_a_wrong_method_is_405_with_sorted_allowed_and_no_token(
    api_client, method, path, allowed
):
    error = error_of(getattr(api_client, method)(path), 405, "METHOD_NOT_ALLOWED")
    assert error["details"] == {"allowed": allowed}


def test_anonymous_delete_on_merchants_is_401_not_405(api_client):
    response = api_client.delete(MERCHANTS)

    error_of(response, 401, "INVALID_TOKEN")
    assert response["WWW-Authenticate"] == "Bearer"


def test_user_delete_on_merchants_is_405_whatever_the_role(user_client, admin_client):
    # An unmapped method needs only authentication, then answers 405 for user and admin alike.
    for client in (user_client, admin_client):
        error = error_of(client.delete(MERCHANTS), 405, "METHOD_NOT_ALLOWED")
        assert error["details"] == {"allowed": ["GET", "POST"]}  # sorted alphabetically


def test_non_admin_on_an_admin_endpoint_is_403_forbidden_r20(user_client):
    error = error_of(user_client.get(MERCHANTS), 403, "FORBIDDEN")

    assert error["details"] == {"required_role": "admin", "current_role": "user"}


def test_bad_token_on_an_admin_endpoint_is_401_before_403(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer garbage")

    error_of(api_client.get(MERCHANTS), 401, "INVALID_TOKEN")


def test_content_type_is_checked_after_authentication_role_and_method(api_client, user_client, admin_client):
    text = "name=x"
    error_of(post_raw(api_client, MERCHANTS, text, "text/plain"), 401, "INVALID_TOKEN")
    error_of(post_raw(user_client, MERCHANTS, text, "text/plain"), 403, "FORBIDDEN")
    error_of(api_client.generic("PUT", USERS, text, content_type="text/plain"), 405, "METHOD_NOT_ALLOWED")
    error_of(post_raw(admin_client, MERCHANTS, "{not json", "text/plain"), 415, "UNSUPPORTED_MEDIA_TYPE")
    assert not Merchant.objects.exists()


# --- 413 body size ----------------------------------------------------------------------------


def big_json(size: int) -> str:
    """A JSON object of exactly `size` bytes."""
    head = '{"email": "big@example.com", "password": "Str0ng!Passw0rd", "padding": "'
    return head + "x" * (size - len(head) - 2) + '"}'


@pytest.mark.parametrize("path", [USERS, "/api/v1/nope", MERCHANTS, "/health/live"])
def test_body_over_64_kib_is_413_before_routing_and_authentication(api_client, path):
    body = big_json(MAX_BYTES + 1)
    assert len(body.encode()) == MAX_BYTES + 1

    response = post_raw(api_client, path, body)

    error = error_of(response, 413, "PAYLOAD_TOO_LARGE")
    assert error["details"] == {"max_bytes": MAX_BYTES}
    assert is_generated_uuid(response["X-Request-ID"])


def test_body_of_exactly_64_kib_is_accepted(api_client):
    response = post_raw(api_client, USERS, big_json(MAX_BYTES))

    assert response.status_code == 201, response.content[:300]


def test_body_limit_follows_the_setting(api_client, settings):
    settings.MAX_REQUEST_BODY_BYTES = 100

    error = error_of(post_raw(api_client, USERS, big_json(101)), 413, "PAYLOAD_TOO_LARGE")

    assert error["details"] == {"max_bytes": 100}


# --- 415 and body parsing (R-207) -----------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"],
)
def test_body_with_a_non_json_content_type_is_415(api_client, content_type):
    response = post_raw(api_client, USERS, '{"email": "a@example.com"}', content_type)

    error = error_of(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert error["details"] == {}


def test_json_content_type_with_charset_parameter_is_accepted(api_client):
    body = json.dumps({"email": "charset@example.com", "password": "Str0ng!Passw0rd"})

    response = post_raw(api_client, USERS, body, "application/json; charset=utf-8")

    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    "body",
    ['{"email": ', "{'email': 'a@b.io'}", "not json", '{"a": 1}}', b"\xff\xfe{}", '{"email": "a@b.io",}'],
)
def test_malformed_json_is_400_validation_error_on_field_body(api_client, body):
    response = post_raw(api_client, USERS, body)

    assert set(violations_of(response)) == {"body"}


@pytest.mark.parametrize("body", ["[]", '[{"email": "a@b.io"}]', "null", '"x"', "42", "true"])
def test_valid_json_that_is_not_an_object_is_400_on_field_body_r207(api_client, body):
    response = post_raw(api_client, USERS, body)

    assert set(violations_of(response)) == {"body"}


def test_empty_body_is_a_validation_error_naming_the_missing_fields(api_client):
    response = post_raw(api_client, USERS, "")

    assert set(violations_of(response)) == {"email", "password"}


# --- Decimals on input (api.md §0.1, R-1, R-207), through POST /merchants ----------------------


def create_merchant(client, raw_percentage: str):
    return post_raw(client, MERCHANTS, '{"name": "Decimal Shop", "default_cashback_percentage": %s}' % raw_percentage)


@pytest.mark.parametrize(
    ("raw", "stored"), [("5", "5.00"), ("5.5", "5.50"), ("7.25", "7.25"), ('"7.25"', "7.25"), ('"0"', "0.00"),
                        ("20.00", "20.00")],
)
def test_decimal_as_json_number_or_numeric_string_is_accepted_and_printed_with_two_decimals(
    admin_client, raw, stored
):
    response = create_merchant(admin_client, raw)

    assert response.status_code == 201, response.content
    assert response.json()["default_cashback_percentage"] == stored


@pytest.mark.parametrize(
    "raw",
    [
        "1e1", '"1e1"', "1E1", "5e-1", "1e0", "10e-1", "0e0", '"5E-1"',  # exponent notation
        "7.125", '"7.125"', "7.001",  # more than two decimals: rejected, never rounded
        "true", "false", "null", '"abc"', '""', "[5]", '{"v": 5}',
        '"\u0665"', '"\u0661.\u0665\u0660"',  # non-ASCII digits are not a plain decimal
        '"0x10"', '"5."', '".5"', '"1_0"', '" 5"', '"5.00\\n"', '"+5"',
    ],
)
def test_decimal_in_exponent_notation_with_three_places_or_of_wrong_type_is_400_r207(admin_client, raw):
    response = create_merchant(admin_client, raw)

    assert set(violations_of(response)) == {"default_cashback_percentage"}
    assert not Merchant.objects.exists()


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_json_constants_are_400_r207(admin_client, constant):
    response = create_merchant(admin_client, constant)

    error_of(response, 400, "VALIDATION_ERROR")
    assert not Merchant.objects.exists()


@pytest.mark.parametrize("raw", ['"NaN"', '"Infinity"', '"-inf"'])
def test_nan_and_infinity_as_strings_are_400_naming_the_field(admin_client, raw):
    assert set(violations_of(create_merchant(admin_client, raw))) == {"default_cashback_percentage"}


def test_json_numbers_are_parsed_as_decimal_not_float(admin_client):
    # 0.1 + 0.2 style artefacts would show through a float: 2.675 is 2.67499999... as a float.
    response = create_merchant(admin_client, "2.67")

    assert response.status_code == 201
    assert str(Merchant.objects.get().default_cashback_percentage) == "2.67"


# --- Pagination (api.md §0.5, R-213) ------------------------------------------------------------


@pytest.fixture
def twelve_merchants(db):
    return MerchantFactory.create_batch(12)


def test_pagination_defaults_to_offset_0_limit_10_with_the_real_total(admin_client, twelve_merchants):
    response = admin_client.get(MERCHANTS)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"data", "pagination"}
    assert body["pagination"] == {"offset": 0, "limit": 10, "total": 12}
    assert len(body["data"]) == 10


def test_pagination_offset_and_limit_select_the_page(admin_client, twelve_merchants):
    everything = admin_client.get(MERCHANTS, {"limit": 100}).json()["data"]

    page = admin_client.get(MERCHANTS, {"offset": 10, "limit": 5}).json()

    assert page["pagination"] == {"offset": 10, "limit": 5, "total": 12}
    assert page["data"] == everything[10:]


@pytest.mark.parametrize("offset", ["12", "13", "2147483647"])
def test_pagination_offset_past_the_end_is_an_empty_page_with_the_real_total(admin_client, twelve_merchants, offset):
    body = admin_client.get(MERCHANTS, {"offset": offset}).json()

    assert body == {"data": [], "pagination": {"offset": int(offset), "limit": 10, "total": 12}}


def test_pagination_accepts_the_bounds_limit_1_and_100(admin_client, twelve_merchants):
    assert len(admin_client.get(MERCHANTS, {"limit": "1"}).json()["data"]) == 1
    assert len(admin_client.get(MERCHANTS, {"limit": "100"}).json()["data"]) == 12


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("limit=1.5", "limit"),
        ("limit=", "limit"),
        ("limit=+5", "limit"),
        ("limit=%205", "limit"),
        ("limit=10%0A", "limit"),  # ASCII digits only, nothing trailing
        ("limit=%D9%A1", "limit"),  # ARABIC-INDIC DIGIT ONE
        ("limit=1e1", "limit"),
        ("offset=-1", "offset"),
        ("offset=2147483648", "offset"),
        ("offset=abc", "offset"),
        ("offset=0.0", "offset"),
        ("offset=", "offset"),
        ("offset=3%0A", "offset"),
    ],
)
def test_pagination_bad_offset_or_limit_is_400_naming_the_parameter_r213(admin_client, params, field):
    response = admin_client.get(f"{MERCHANTS}?{params}")

    assert set(violations_of(response)) == {field}


def test_pagination_reports_both_bad_parameters_at_once(admin_client):
    response = admin_client.get(f"{MERCHANTS}?offset=-1&limit=0")

    assert set(violations_of(response)) == {"offset", "limit"}


def test_unknown_query_parameters_are_ignored(admin_client, twelve_merchants):
    response = admin_client.get(MERCHANTS, {"page": "2", "page_size": "50"})

    assert response.status_code == 200
    assert response.json()["pagination"] == {"offset": 0, "limit": 10, "total": 12}


@pytest.mark.parametrize(("raw", "count"), [("true", 1), ("TRUE", 1), ("1", 1), ("false", 2), ("False", 2), ("0", 2)])
def test_query_booleans_accept_true_false_1_0_in_any_case(admin_client, raw, count):
    MerchantFactory(active=True)
    MerchantFactory.create_batch(2, active=False)

    response = admin_client.get(MERCHANTS, {"active": raw})

    assert response.json()["pagination"]["total"] == count


@pytest.mark.parametrize("raw", ["yes", "no", "t", "", "2", "truee"])
def test_query_boolean_of_another_value_is_400_naming_it(admin_client, raw):
    assert set(violations_of(admin_client.get(MERCHANTS, {"active": raw}))) == {"active"}


# --- Path ids (api.md §0.1, R-212) --------------------------------------------------------------


@pytest.mark.parametrize(
    "merchant_id",
    ["not-a-uuid", "123", "%s%%0A", "%s%%20", "{%s}", "%s-0"],
)
def test_malformed_path_id_is_404_after_auth_never_500(admin_client, merchant_id):
    existing = MerchantFactory()
    path_id = merchant_id % existing.pk if "%s" in merchant_id else merchant_id
    client = client_for(admin_client.account, raise_request_exception=False)

    response = client.patch(f"{MERCHANTS}/{path_id}/status", {"status": "inactive"}, format="json")

    error_of(response, 404, "NOT_FOUND")
    existing.refresh_from_db()
    assert existing.active is True


@pytest.mark.parametrize("suffix", ["\n", " ", "\r\n", "0"])
def test_parse_uuid_accepts_only_the_whole_36_character_form_r212(suffix):
    value = str(uuid.uuid4())

    assert parse_uuid(value.upper()) == uuid.UUID(value)
    assert parse_uuid(value + suffix) is None


def test_uppercase_path_id_is_the_same_resource(admin_client):
    merchant = MerchantFactory()

    response = admin_client.patch(f"{MERCHANTS}/{str(merchant.pk).upper()}/status", {"status": "inactive"},
                                  format="json")

    assert response.status_code == 200, response.content
    assert response.json() == {"id": str(merchant.pk), "status": "inactive"}


# --- Trailing slash, Accept, HEAD (api.md §0.1, §0.6) -------------------------------------------


@pytest.mark.parametrize("path", [MERCHANTS, MERCHANTS + "/"])
def test_both_path_forms_answer_without_redirect(admin_client, path):
    response = admin_client.get(path)

    assert response.status_code == 200
    assert "Location" not in response


def test_accept_header_and_format_parameter_are_ignored(admin_client):
    response = admin_client.get(MERCHANTS, {"format": "xml"}, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["data"] == []


def test_head_is_served_where_get_is(api_client):
    response = api_client.head("/health/live")

    assert response.status_code == 200


def test_options_without_cors_preflight_is_treated_as_a_missing_method(api_client, user_client):
    # api.md §0.6: OPTIONS only answers CORS preflight; otherwise it is a method the route lacks.
    assert error_of(api_client.options(USERS), 405, "METHOD_NOT_ALLOWED")["details"] == {"allowed": ["POST"]}
    error_of(api_client.options("/api/v1/users/me"), 401, "INVALID_TOKEN")
    assert error_of(user_client.options("/api/v1/users/me"), 405, "METHOD_NOT_ALLOWED")["details"] == {
        "allowed": ["GET"]
    }


def test_cors_preflight_from_the_allowed_origin_is_answered(api_client):
    response = api_client.options(
        USERS, HTTP_ORIGIN="https://clicknback.com", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "https://clicknback.com"
    assert "X-Request-ID" in response["Access-Control-Expose-Headers"]


# --- X-Request-ID (R-214) ----------------------------------------------------------------------


def is_generated_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


@pytest.mark.parametrize("request_id", ["abc-123", "A.b_c-9", "x" * 128, str(uuid.uuid4())])
def test_valid_request_id_is_echoed(api_client, request_id):
    response = api_client.get("/health/live", HTTP_X_REQUEST_ID=request_id)

    assert response["X-Request-ID"] == request_id


@pytest.mark.parametrize(
    "request_id", ["has space", "x" * 129, "", "abc\n", "abc\nINJECTED line", "semi;colon", "é", "a/b", "<script>"],
)
def test_invalid_request_id_is_replaced_by_a_generated_uuid(api_client, request_id):
    response = api_client.get("/health/live", HTTP_X_REQUEST_ID=request_id)

    assert response.status_code == 200
    assert is_generated_uuid(response["X-Request-ID"])


def test_every_response_carries_a_request_id_including_errors(api_client):
    first = api_client.get("/api/v1/nope")
    second = api_client.get("/api/v1/users/me")

    assert is_generated_uuid(first["X-Request-ID"])
    assert is_generated_uuid(second["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


# --- 500 envelope and logging -------------------------------------------------------------------

LOG_FORMAT = django_settings.LOGGING["formatters"]["plain"]["format"]


def crash_listing(admin_user, request_id=None):
    client = client_for(admin_user, raise_request_exception=False)
    headers = {"HTTP_X_REQUEST_ID": request_id} if request_id else {}
    with mock.patch("merchants.selectors.list_merchants", side_effect=RuntimeError("db password is hunter2")):
        return client.get(MERCHANTS, **headers)


def test_unexpected_error_is_500_envelope_with_request_id_and_timestamp_and_no_leak(admin_user):
    response = crash_listing(admin_user)

    error = error_of(response, 500, "INTERNAL_SERVER_ERROR")
    assert error["message"] == "Unexpected server error; please retry later."
    assert set(error["details"]) == {"request_id", "timestamp"}
    assert error["details"]["request_id"] == response["X-Request-ID"]
    assert is_generated_uuid(error["details"]["request_id"])
    assert error["details"]["timestamp"].endswith("Z")
    text = response.content.decode()
    assert "hunter2" not in text
    assert "Traceback" not in text
    assert "RuntimeError" not in text


def test_500_envelope_carries_the_clients_request_id(admin_user):
    response = crash_listing(admin_user, request_id="trace-me-42")

    assert response["X-Request-ID"] == "trace-me-42"
    assert error_of(response, 500, "INTERNAL_SERVER_ERROR")["details"]["request_id"] == "trace-me-42"


def test_every_log_line_of_a_failed_request_carries_its_request_id(admin_user, caplog):
    caplog.set_level(logging.INFO)

    crash_listing(admin_user, request_id="log-line-7")

    records = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert records, "the crash is logged"
    assert any(r.exc_info for r in records)  # with its traceback
    formatter = logging.Formatter(LOG_FORMAT)
    for record in records:
        assert "[log-line-7]" in formatter.format(record), record.name


def test_request_id_of_one_request_does_not_leak_into_the_next(admin_user, caplog):
    crash_listing(admin_user, request_id="first-request")
    caplog.clear()
    logging.getLogger("clicknback.test").error("between requests")

    formatter = logging.Formatter(LOG_FORMAT)
    (record,) = caplog.records
    assert "first-request" not in formatter.format(record)


# --- Health probes (api.md §2) ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/health/live", "/health/live/"])
def test_live_probe_is_200_alive(api_client, path):
    response = api_client.get(path)

    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


@pytest.mark.parametrize("path", ["/health/ready", "/health/ready/"])
def test_ready_probe_is_200_ready_when_the_database_answers(api_client, path):
    response = api_client.get(path)

    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_probes_ignore_a_garbage_authorization_header(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer garbage")

    assert api_client.get("/health/live").status_code == 200
    assert api_client.get("/health/ready").status_code == 200


def test_ready_probe_is_503_with_envelope_when_the_database_does_not_answer(api_client):
    with mock.patch.object(health_views.connection, "cursor", side_effect=OperationalError("down")):
        response = api_client.get("/health/ready")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "error": {"code": "SERVICE_UNAVAILABLE", "message": "Database is not reachable.", "details": {}},
    }


def session_statement_timeout() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_ready_probe_timeout_does_not_stay_on_the_pooled_connection_r213(api_client):
    # The 2-second limit is for SELECT 1 only; later requests on this connection must not inherit it.
    real_execute = CursorWrapper.execute

    def select_1_times_out(cursor, sql, params=None):
        if sql == "SELECT 1":
            raise OperationalError("canceling statement due to statement timeout")
        return real_execute(cursor, sql, params)

    before = session_statement_timeout()
    with mock.patch.object(CursorWrapper, "execute", autospec=True, side_effect=select_1_times_out):
        assert api_client.get("/health/ready").status_code == 503
    assert session_statement_timeout() == before

    assert api_client.get("/health/ready").status_code == 200
    assert session_statement_timeout() == before


# --- secrets are required without DEBUG ---------------------------------------------------

STARTUP = "import os, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'clicknback.settings'; django.setup()"
SECRET_32 = "s" * 32


def start_process(**env_overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in {"SECRET_KEY", "JWT_SIGNING_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE"}}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "-c", STARTUP], env=env, cwd=BASE_DIR, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"DEBUG": "false"}, "SECRET_KEY"),
        ({"DEBUG": "false", "SECRET_KEY": SECRET_32}, "JWT_SIGNING_KEY"),
        ({"DEBUG": "false", "SECRET_KEY": "s" * 31, "JWT_SIGNING_KEY": SECRET_32}, "SECRET_KEY"),
        ({"SECRET_KEY": SECRET_32, "JWT_SIGNING_KEY": "short"}, "JWT_SIGNING_KEY"),  # DEBUG defaults to off
    ],
)
def test_r214_process_refuses_to_start_without_long_enough_secrets(env, missing):
    result = start_process(**env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert missing in result.stderr


def test_r214_process_starts_with_both_secrets_or_in_debug(db):
    assert start_process(DEBUG="false", SECRET_KEY=SECRET_32, JWT_SIGNING_KEY=SECRET_32).returncode == 0
    assert start_process(DEBUG="true").returncode == 0
