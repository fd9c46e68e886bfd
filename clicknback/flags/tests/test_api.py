"""Feature flags over HTTP (api.md §11): APIClient + the real URLconf, asserting status, body and DB."""

import re
import uuid

import pytest

from clicknback.audit.models import AuditAction, AuditLog
from clicknback.flags.models import FeatureFlag
from clicknback.flags.tests.factories import FeatureFlagFactory
from clicknback.testing import error_of, violation_fields

pytestmark = pytest.mark.django_db

FLAGS = "/api/v1/feature-flags"
KEY = "purchase_auto_confirm"
USER_ID = "11111111-1111-4111-8111-111111111111"
MERCHANT_ID = "22222222-2222-4222-8222-222222222222"
DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
FLAG_FIELDS = {"id", "key", "enabled", "scope_type", "scope_id", "description", "created_at", "updated_at"}
BAD_KEYS = [
    ("Purchase_auto_confirm", "uppercase"),
    ("1flag", "leading digit"),
    ("_flag", "leading underscore"),
    ("flag-name", "hyphen"),
    ("flag.name", "dot"),
    ("x" * 101, "101 chars"),
    ("fl%20ag", "space"),
    ("flag%0A", "trailing newline"),
    ("caf%C3%A9", "non-ASCII"),
]


def flag_url(key=KEY, suffix=""):
    return f"{FLAGS}/{key}{suffix}"


def flag_audits(action=None):
    rows = AuditLog.objects.filter(resource_type="feature_flag")
    return list(rows.filter(action=action) if action else rows)


# --- PUT /api/v1/feature-flags/{key} ------------------------------------------------------------------


def test_put_creates_a_global_flag_and_answers_200_with_the_feature_flag_shape(admin_client):
    response = admin_client.put(flag_url(), {"enabled": False, "description": "Pause confirmations"}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == FLAG_FIELDS
    assert (body["key"], body["enabled"], body["scope_type"], body["scope_id"], body["description"]) == (
        KEY, False, "global", None, "Pause confirmations"
    )
    assert body["id"] == str(uuid.UUID(body["id"]))
    assert DATETIME.match(body["created_at"]) and DATETIME.match(body["updated_at"])
    flag = FeatureFlag.objects.get()
    assert (str(flag.pk), flag.enabled, flag.scope_type, flag.scope_id) == (body["id"], False, "global", None)
    (row,) = flag_audits()
    assert (row.action, row.actor_type, row.actor_id, row.resource_id) == (
        AuditAction.FEATURE_FLAG_SET, "admin", admin_client.account.id, body["id"]
    )


def test_put_again_updates_the_same_record_and_answers_200_r161(admin_client):
    first = admin_client.put(flag_url(), {"enabled": False}, format="json").json()

    response = admin_client.put(flag_url() + "/", {"enabled": True}, format="json")  # trailing slash: same route

    assert response.status_code == 200
    assert response.json()["id"] == first["id"]
    assert response.json()["enabled"] is True
    assert FeatureFlag.objects.count() == 1 and FeatureFlag.objects.get().enabled is True
    assert [r.details["before"] for r in flag_audits()].count(None) == 1


def test_put_without_description_keeps_the_previous_description(admin_client):
    admin_client.put(flag_url(), {"enabled": True, "description": "Kept"}, format="json")

    response = admin_client.put(flag_url(), {"enabled": False}, format="json")

    assert response.json()["description"] == "Kept"
    assert FeatureFlag.objects.get().description == "Kept"


def test_put_with_description_null_clears_it(admin_client):
    admin_client.put(flag_url(), {"enabled": True, "description": "Old"}, format="json")

    response = admin_client.put(flag_url(), {"enabled": True, "description": None}, format="json")

    assert response.status_code == 200
    assert response.json()["description"] is None


@pytest.mark.parametrize(("scope_type", "scope_id"), [("user", USER_ID), ("merchant", MERCHANT_ID.upper())])
def test_put_creates_a_scoped_flag_for_an_entity_that_need_not_exist_r163(admin_client, scope_type, scope_id):
    response = admin_client.put(flag_url(), {"enabled": True, "scope_type": scope_type, "scope_id": scope_id},
                                format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["scope_type"], body["scope_id"]) == (scope_type, scope_id.lower())  # lowercase out
    assert FeatureFlag.objects.get().scope_id == uuid.UUID(scope_id)


def test_put_one_key_per_scope_is_a_separate_record_r161(admin_client):
    admin_client.put(flag_url(), {"enabled": False}, format="json")
    admin_client.put(flag_url(), {"enabled": True, "scope_type": "user", "scope_id": USER_ID}, format="json")
    admin_client.put(flag_url(), {"enabled": True, "scope_type": "merchant", "scope_id": USER_ID}, format="json")

    assert FeatureFlag.objects.filter(key=KEY).count() == 3


@pytest.mark.parametrize("key", ["a", "x" * 100, "flag_2_b"])
def test_put_accepts_keys_of_1_to_100_allowed_chars_r162(admin_client, key):
    response = admin_client.put(flag_url(key), {"enabled": True}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["key"] == key


@pytest.mark.parametrize(("key", "case"), BAD_KEYS)
def test_put_with_a_bad_key_in_the_path_is_400_on_field_key_not_404_r162(admin_client, key, case):
    response = admin_client.put(flag_url(key), {"enabled": True}, format="json")

    assert violation_fields(response) == ["key"], case
    assert not FeatureFlag.objects.exists() and not flag_audits()  # no audit for a refused call


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "enabled"),  # required
        ({"enabled": "true"}, "enabled"),  # a string is not a boolean
        ({"enabled": 1}, "enabled"),
        ({"enabled": None}, "enabled"),
        ({"enabled": True, "scope_type": "tenant"}, "scope_type"),
        ({"enabled": True, "scope_type": "GLOBAL"}, "scope_type"),
        ({"enabled": True, "scope_type": 1}, "scope_type"),
        ({"enabled": True, "scope_type": None}, "scope_type"),
        ({"enabled": True, "scope_type": "user", "scope_id": "not-a-uuid"}, "scope_id"),
        ({"enabled": True, "scope_type": "user", "scope_id": USER_ID.replace("-", "")}, "scope_id"),
        ({"enabled": True, "scope_type": "user", "scope_id": "{" + USER_ID + "}"}, "scope_id"),
        ({"enabled": True, "scope_type": "user", "scope_id": 12}, "scope_id"),
        ({"enabled": True, "scope_id": USER_ID}, "scope_id"),  # global (by default) with an id
        ({"enabled": True, "scope_type": "global", "scope_id": USER_ID}, "scope_id"),
        ({"enabled": True, "description": "d" * 501}, "description"),
        ({"enabled": True, "description": 5}, "description"),
        ({"enabled": True, "description": "a\x00b"}, "description"),
    ],
    ids=lambda value: None if isinstance(value, dict) else value,
)
def test_put_bad_body_is_400_validation_error_naming_the_field(admin_client, body, field):
    response = admin_client.put(flag_url(), body, format="json")

    assert violation_fields(response) == [field]
    assert not FeatureFlag.objects.exists() and not flag_audits()


def test_put_global_with_scope_id_null_is_accepted(admin_client):
    response = admin_client.put(flag_url(), {"enabled": True, "scope_type": "global", "scope_id": None},
                                format="json")

    assert response.status_code == 200
    assert response.json()["scope_id"] is None


def test_put_description_of_500_chars_is_accepted(admin_client):
    response = admin_client.put(flag_url(), {"enabled": True, "description": "d" * 500}, format="json")

    assert response.status_code == 200
    assert len(FeatureFlag.objects.get().description) == 500


def test_put_reports_the_key_and_body_violations_together(admin_client):
    response = admin_client.put(flag_url("Bad"), {"enabled": "yes", "scope_type": "tenant"}, format="json")

    assert sorted(violation_fields(response)) == ["enabled", "key", "scope_type"]


@pytest.mark.parametrize("raw", ["[]", "null", '"x"', "{not json"])
def test_put_body_that_is_not_a_json_object_is_400_on_field_body_r207(admin_client, raw):
    response = admin_client.put(flag_url(), raw, content_type="application/json")

    assert "body" in violation_fields(response)


@pytest.mark.parametrize("scope_type", ["user", "merchant"])
@pytest.mark.parametrize("extra", [{}, {"scope_id": None}])
def test_put_scoped_without_scope_id_is_422_scope_id_required_r163(admin_client, scope_type, extra):
    response = admin_client.put(flag_url(), {"enabled": True, "scope_type": scope_type, **extra}, format="json")

    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "FEATURE_FLAG_SCOPE_ID_REQUIRED"
    assert error["details"] == {"scope_type": scope_type}
    assert not FeatureFlag.objects.exists() and not flag_audits()


def test_put_validation_400_is_answered_before_the_422(admin_client):
    response = admin_client.put(flag_url(), {"enabled": "true", "scope_type": "user"}, format="json")

    assert violation_fields(response) == ["enabled"]


def test_put_with_a_non_json_content_type_is_415_even_with_a_bad_key(admin_client):
    # api.md §0.6: content type 415 is checked before validation 400.
    response = admin_client.put(flag_url("Bad-Key"), "enabled=true", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert error_of(response)["code"] == "UNSUPPORTED_MEDIA_TYPE"


# --- DELETE /api/v1/feature-flags/{key} --------------------------------------------------------------


def test_delete_removes_exactly_one_record_answers_204_and_audits_r165(admin_client):
    global_flag = FeatureFlagFactory(key=KEY, enabled=False)
    scoped = FeatureFlagFactory(key=KEY, scope_type="user", scope_id=USER_ID, enabled=True)

    response = admin_client.delete(flag_url() + f"?scope_type=user&scope_id={USER_ID}")

    assert response.status_code == 204
    assert response.content == b""
    assert list(FeatureFlag.objects.all()) == [global_flag]
    (row,) = flag_audits(AuditAction.FEATURE_FLAG_DELETED)
    assert (row.actor_type, row.actor_id, row.resource_id) == ("admin", admin_client.account.id, str(scoped.pk))
    # the user now falls back to the global record
    evaluated = admin_client.get(flag_url(suffix="/evaluate"), {"scope_type": "user", "scope_id": USER_ID})
    assert evaluated.json() == {"key": KEY, "enabled": False}


def test_delete_global_with_trailing_slash_restores_fail_open_r165(admin_client):
    FeatureFlagFactory(key=KEY, enabled=False)
    FeatureFlagFactory(key=KEY, scope_type="merchant", scope_id=MERCHANT_ID, enabled=False)

    response = admin_client.delete(flag_url() + "/?scope_type=global")

    assert response.status_code == 204
    assert list(FeatureFlag.objects.values_list("scope_type", flat=True)) == ["merchant"]
    assert admin_client.get(flag_url(suffix="/evaluate")).json() == {"key": KEY, "enabled": True}


def test_delete_of_a_missing_record_is_404_feature_flag_not_found(admin_client):
    FeatureFlagFactory(key=KEY)  # the global record must not be touched

    response = admin_client.delete(flag_url() + f"?scope_type=merchant&scope_id={MERCHANT_ID}")

    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "FEATURE_FLAG_NOT_FOUND"
    assert error["details"] == {"key": KEY, "scope_type": "merchant", "scope_id": MERCHANT_ID}
    assert FeatureFlag.objects.count() == 1 and not flag_audits()


def test_delete_of_a_missing_global_record_names_a_null_scope_id(admin_client):
    response = admin_client.delete(flag_url() + "?scope_type=global")

    assert response.status_code == 404
    assert error_of(response)["details"] == {"key": KEY, "scope_type": "global", "scope_id": None}


def test_delete_without_scope_type_is_400_so_a_global_flag_is_never_deleted_by_omission(admin_client):
    FeatureFlagFactory(key=KEY)

    response = admin_client.delete(flag_url())

    assert violation_fields(response) == ["scope_type"]
    assert FeatureFlag.objects.count() == 1


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("scope_type=tenant", ["scope_type"]),
        ("scope_type=", ["scope_type"]),
        (f"scope_type=user&scope_id={USER_ID[:-1]}", ["scope_id"]),
        (f"scope_type=global&scope_id={USER_ID}", ["scope_id"]),
    ],
)
def test_delete_bad_query_is_400(admin_client, query, fields):
    FeatureFlagFactory(key=KEY)

    assert violation_fields(admin_client.delete(flag_url() + "?" + query)) == fields
    assert FeatureFlag.objects.count() == 1


@pytest.mark.parametrize(("key", "case"), BAD_KEYS[:3])
def test_delete_with_a_bad_key_is_400_on_field_key(admin_client, key, case):
    assert violation_fields(admin_client.delete(flag_url(key) + "?scope_type=global")) == ["key"], case


@pytest.mark.parametrize("scope_type", ["user", "merchant"])
def test_delete_scoped_without_scope_id_is_422_before_existence(admin_client, scope_type):
    response = admin_client.delete(flag_url() + f"?scope_type={scope_type}")

    assert response.status_code == 422
    assert error_of(response) | {"message": ""} == {
        "code": "FEATURE_FLAG_SCOPE_ID_REQUIRED", "message": "", "details": {"scope_type": scope_type}
    }


# --- GET /api/v1/feature-flags --------------------------------------------------------------------


def keys_and_scopes(response):
    assert response.status_code == 200, response.content
    return [(f["key"], f["scope_type"]) for f in response.json()["data"]]


def _created(flag, when):
    FeatureFlag.objects.filter(pk=flag.pk).update(created_at=when)
    return flag


def test_list_sorts_by_created_at_descending_then_id_and_renders_feature_flags(admin_client):
    old = _created(FeatureFlagFactory(key="old_flag", description="d"), "2026-01-01T00:00:00Z")
    new = _created(FeatureFlagFactory(key="new_flag", scope_type="user", scope_id=USER_ID), "2026-03-01T00:00:00Z")
    tie_a = _created(FeatureFlagFactory(id=uuid.UUID(int=2), key="tie_a"), "2026-02-01T00:00:00Z")
    tie_b = _created(FeatureFlagFactory(id=uuid.UUID(int=1), key="tie_b"), "2026-02-01T00:00:00Z")

    response = admin_client.get(FLAGS)

    assert [f["id"] for f in response.json()["data"]] == [str(f.pk) for f in (new, tie_b, tie_a, old)]
    item = response.json()["data"][0]
    assert set(item) == FLAG_FIELDS
    assert (item["scope_type"], item["scope_id"]) == ("user", USER_ID)
    assert item["created_at"] == "2026-03-01T00:00:00.000000Z"
    assert response.json()["pagination"] == {"offset": 0, "limit": 10, "total": 4}


def test_list_filters_are_and_combined_and_scope_id_works_without_scope_type(admin_client):
    FeatureFlagFactory(key=KEY)
    FeatureFlagFactory(key=KEY, scope_type="user", scope_id=USER_ID)
    FeatureFlagFactory(key=KEY, scope_type="merchant", scope_id=USER_ID)
    FeatureFlagFactory(key="payout_auto_process", scope_type="user", scope_id=USER_ID)

    assert len(keys_and_scopes(admin_client.get(FLAGS, {"key": KEY}))) == 3
    assert sorted(keys_and_scopes(admin_client.get(FLAGS, {"scope_id": USER_ID.upper()}))) == [
        ("payout_auto_process", "user"), (KEY, "merchant"), (KEY, "user"),
    ]
    assert keys_and_scopes(admin_client.get(FLAGS, {"key": KEY, "scope_type": "user", "scope_id": USER_ID})) == [
        (KEY, "user")
    ]
    assert keys_and_scopes(admin_client.get(FLAGS, {"scope_type": "global"})) == [(KEY, "global")]
    filtered = admin_client.get(FLAGS, {"key": "never_set"}).json()
    assert filtered == {"data": [], "pagination": {"offset": 0, "limit": 10, "total": 0}}


def test_list_offset_and_limit_select_the_page_with_the_real_total(admin_client):
    for n in range(12):
        _created(FeatureFlagFactory(key=f"flag_{n:02d}"), f"2026-01-{n + 1:02d}T00:00:00Z")

    page = admin_client.get(FLAGS + "/", {"offset": 10, "limit": 5}).json()
    past_end = admin_client.get(FLAGS, {"offset": 50}).json()

    assert [f["key"] for f in page["data"]] == ["flag_01", "flag_00"]
    assert page["pagination"] == {"offset": 10, "limit": 5, "total": 12}
    assert past_end == {"data": [], "pagination": {"offset": 50, "limit": 10, "total": 12}}


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ({"scope_type": "tenant"}, ["scope_type"]),
        ({"scope_id": "abc"}, ["scope_id"]),
        ({"key": "Bad-Key"}, ["key"]),
        ({"limit": "0"}, ["limit"]),
        ({"limit": "101"}, ["limit"]),
        ({"offset": "-1"}, ["offset"]),
        ({"scope_type": "x", "scope_id": "y", "limit": "z"}, ["scope_type", "scope_id", "limit"]),
    ],
)
def test_list_bad_query_is_400_naming_every_parameter(admin_client, query, fields):
    assert violation_fields(admin_client.get(FLAGS, query)) == fields


@pytest.mark.parametrize("count", [1, 30])
def test_list_costs_a_constant_number_of_queries(admin_client, django_assert_num_queries, count):
    FeatureFlagFactory.create_batch(count)

    # authentication (user row) + count + page
    with django_assert_num_queries(3):
        response = admin_client.get(FLAGS, {"limit": 100})

    assert len(response.json()["data"]) == count


# --- GET /api/v1/feature-flags/{key}/evaluate ----------------------------------------------------------


def evaluate(client, key=KEY, **query):
    return client.get(flag_url(key, "/evaluate"), query)


def test_evaluate_without_any_record_is_true_fail_open_r160(admin_client):
    response = evaluate(admin_client)

    assert response.status_code == 200
    assert response.json() == {"key": KEY, "enabled": True}
    assert not FeatureFlag.objects.exists()  # evaluating never creates a record


def test_evaluate_resolves_scoped_then_global_then_true_r160(admin_client):
    FeatureFlagFactory(key=KEY, enabled=False)
    FeatureFlagFactory(key=KEY, scope_type="user", scope_id=USER_ID, enabled=True)

    assert evaluate(admin_client).json()["enabled"] is False
    assert evaluate(admin_client, scope_type="global").json()["enabled"] is False
    assert evaluate(admin_client, scope_type="user", scope_id=USER_ID).json()["enabled"] is True  # override
    assert evaluate(admin_client, scope_type="user", scope_id=MERCHANT_ID).json()["enabled"] is False
    assert evaluate(admin_client, scope_type="merchant", scope_id=USER_ID).json()["enabled"] is False
    assert evaluate(admin_client, key="other_flag").json() == {"key": "other_flag", "enabled": True}


def test_evaluate_with_trailing_slash_is_the_same_route(admin_client):
    FeatureFlagFactory(key=KEY, enabled=False)

    assert admin_client.get(flag_url(suffix="/evaluate/")).json() == {"key": KEY, "enabled": False}


def test_evaluate_global_ignores_a_well_formed_scope_id(admin_client):
    FeatureFlagFactory(key=KEY, enabled=False)
    FeatureFlagFactory(key=KEY, scope_type="user", scope_id=USER_ID, enabled=True)

    assert evaluate(admin_client, scope_id=USER_ID).json() == {"key": KEY, "enabled": False}


@pytest.mark.parametrize(
    ("key", "query", "fields"),
    [
        ("Bad", {}, ["key"]),
        ("x" * 101, {}, ["key"]),
        (KEY, {"scope_type": "tenant"}, ["scope_type"]),  # Decision: no silent fallback to global
        (KEY, {"scope_type": "user", "scope_id": "12345"}, ["scope_id"]),
        (KEY, {"scope_id": "12345"}, ["scope_id"]),
        ("Bad", {"scope_type": "tenant"}, ["key", "scope_type"]),
    ],
)
def test_evaluate_bad_input_is_400(admin_client, key, query, fields):
    assert violation_fields(evaluate(admin_client, key=key, **query)) == fields


@pytest.mark.parametrize("scope_type", ["user", "merchant"])
def test_evaluate_scoped_without_scope_id_is_422(admin_client, scope_type):
    response = evaluate(admin_client, scope_type=scope_type)

    assert response.status_code == 422
    error = error_of(response)
    assert (error["code"], error["details"]) == ("FEATURE_FLAG_SCOPE_ID_REQUIRED", {"scope_type": scope_type})


# --- Authentication, role, method (api.md §0.2, §0.6) ---------------------------------------------


ENDPOINTS = [
    ("put", flag_url(), {"enabled": False}),
    ("delete", flag_url() + "?scope_type=global", None),
    ("get", FLAGS, None),
    ("get", flag_url(suffix="/evaluate"), None),
    ("put", flag_url("Bad-Key"), {"enabled": "x"}),  # bad input does not jump the queue
    ("get", flag_url("Bad-Key", "/evaluate"), None),
]


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS)
def test_anonymous_is_401_invalid_token_on_every_endpoint(api_client, method, url, body):
    FeatureFlagFactory(key=KEY)

    response = getattr(api_client, method)(url, body, format="json")

    assert response.status_code == 401
    assert error_of(response)["code"] == "INVALID_TOKEN"
    assert response["WWW-Authenticate"] == "Bearer"
    assert FeatureFlag.objects.get().enabled is True and not flag_audits()


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS)
def test_plain_user_is_403_forbidden_on_every_endpoint(user_client, method, url, body):
    FeatureFlagFactory(key=KEY)

    response = getattr(user_client, method)(url, body, format="json")

    assert response.status_code == 403
    error = error_of(response)
    assert (error["code"], error["details"]) == ("FORBIDDEN", {"required_role": "admin", "current_role": "user"})
    assert FeatureFlag.objects.get().enabled is True and not flag_audits()


@pytest.mark.parametrize(
    ("method", "url", "allowed"),
    [
        ("patch", flag_url(), ["DELETE", "PUT"]),
        ("get", flag_url(), ["DELETE", "PUT"]),
        ("post", FLAGS, ["GET"]),
        ("post", flag_url(suffix="/evaluate"), ["GET"]),
    ],
)
def test_a_method_the_route_lacks_is_405_with_a_token_whatever_the_role_and_401_without(
    admin_client, user_client, api_client, method, url, allowed
):
    for client in (admin_client, user_client):
        response = getattr(client, method)(url, {}, format="json")
        assert response.status_code == 405
        assert error_of(response)["details"] == {"allowed": allowed}
    assert getattr(api_client, method)(url, {}, format="json").status_code == 401


def test_a_demoted_admin_is_403_on_the_next_call(admin_client):
    # api.md §0.2: the current DB role decides, not the token.
    type(admin_client.account).objects.filter(pk=admin_client.account.pk).update(role="user")

    response = admin_client.put(flag_url(), {"enabled": False}, format="json")

    assert response.status_code == 403
    assert not FeatureFlag.objects.exists()
