"""Merchants over HTTP (api.md §5): APIClient + the real URLconf, asserting status, body and DB."""

import re
import uuid
from decimal import Decimal

import pytest

from clicknback.audit.models import AuditAction, AuditLog
from clicknback.testing import error_of, violation_fields
from merchants.models import Merchant
from merchants.tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db

MERCHANTS = "/api/v1/merchants"
SECRET_PATTERN = re.compile(r"^whsec_[0-9a-f]{64}$")


def status_url(merchant_id, slash=""):
    return f"{MERCHANTS}/{merchant_id}/status{slash}"


def create_body(**overrides):
    return {"name": "Acme Shop", "default_cashback_percentage": "5.00", **overrides}


# --- POST /api/v1/merchants -------------------------------------------------------------------


def test_create_merchant_answers_201_with_exact_merchant_shape_and_stores_secret_and_audit(admin_client):
    response = admin_client.post(MERCHANTS, create_body(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "name", "default_cashback_percentage", "active"}
    assert body["name"] == "Acme Shop"
    assert body["default_cashback_percentage"] == "5.00"
    assert body["active"] is True
    assert body["id"] == str(uuid.UUID(body["id"]))  # lowercase hyphenated

    merchant = Merchant.objects.get(pk=body["id"])
    assert merchant.default_cashback_percentage == Decimal("5.00")
    assert SECRET_PATTERN.match(merchant.webhook_secret)
    assert merchant.webhook_secret not in response.content.decode()  # never returned
    assert "secret" not in response.content.decode()

    audit = AuditLog.objects.get(resource_type="merchant", resource_id=body["id"])
    assert audit.action == AuditAction.MERCHANT_CREATED
    assert audit.actor_type == "admin"
    assert audit.actor_id == admin_client.account.id
    assert audit.outcome == "success"
    assert merchant.webhook_secret not in str(audit.details)


def test_create_merchant_ignores_client_supplied_id_and_webhook_secret(admin_client):
    # api.md §0.1: unknown body fields are ignored — they must not reach the model either.
    chosen_id, chosen_secret = str(uuid.uuid4()), "whsec_" + "0" * 64
    response = admin_client.post(
        MERCHANTS, create_body(id=chosen_id, webhook_secret=chosen_secret), format="json"
    )

    assert response.status_code == 201
    merchant = Merchant.objects.get()
    assert str(merchant.id) == response.json()["id"] != chosen_id
    assert merchant.webhook_secret != chosen_secret


def test_create_merchant_without_trailing_slash_and_with_it_are_the_same_endpoint(admin_client):
    first = admin_client.post(MERCHANTS, create_body(name="No Slash"), format="json")
    second = admin_client.post(MERCHANTS + "/", create_body(name="With Slash"), format="json")

    assert (first.status_code, second.status_code) == (201, 201)
    assert Merchant.objects.filter(name__in=["No Slash", "With Slash"]).count() == 2


def test_create_merchant_two_merchants_get_different_secrets(admin_client):
    a = admin_client.post(MERCHANTS, create_body(name="Alpha"), format="json").json()
    b = admin_client.post(MERCHANTS, create_body(name="Beta"), format="json").json()

    secrets = set(Merchant.objects.filter(pk__in=[a["id"], b["id"]]).values_list("webhook_secret", flat=True))
    assert len(secrets) == 2


def test_create_merchant_name_is_trimmed_and_nfc_normalised_r208(admin_client):
    response = admin_client.post(MERCHANTS, create_body(name="  Cafe\u0301 \t"), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["name"] == "Caf\u00e9"
    assert Merchant.objects.get(pk=response.json()["id"]).name == "Caf\u00e9"


def test_create_merchant_nfc_variants_of_one_name_collide_r208(admin_client):
    MerchantFactory(name="Caf\u00e9")

    response = admin_client.post(MERCHANTS, create_body(name="CAFE\u0301"), format="json")

    assert response.status_code == 409
    assert error_of(response)["code"] == "MERCHANT_NAME_ALREADY_EXISTS"


def test_create_merchant_active_false_is_respected_r32(admin_client):
    response = admin_client.post(MERCHANTS, create_body(active=False), format="json")

    assert response.status_code == 201
    assert response.json()["active"] is False
    assert Merchant.objects.get(pk=response.json()["id"]).active is False


def test_create_merchant_is_active_by_default_r32(admin_client):
    response = admin_client.post(MERCHANTS, create_body(), format="json")

    assert response.json()["active"] is True
    assert Merchant.objects.get(pk=response.json()["id"]).active is True


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        (Decimal("5.5"), "5.50"),  # a JSON number, parsed as Decimal
        (7, "7.00"),
        ("0", "0.00"),
        ("20.00", "20.00"),  # R-31 upper bound is inclusive
        (Decimal("0.01"), "0.01"),
    ],
)
def test_create_merchant_percentage_is_emitted_with_two_decimals(admin_client, sent, shown):
    response = admin_client.post(MERCHANTS, create_body(default_cashback_percentage=sent), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["default_cashback_percentage"] == shown
    assert Merchant.objects.get(pk=response.json()["id"]).default_cashback_percentage == Decimal(shown)


def test_create_merchant_json_number_is_not_parsed_through_float(admin_client):
    # 5.5 as raw JSON text: the strict parser must read it as Decimal("5.5").
    response = admin_client.post(
        MERCHANTS, '{"name": "Float Test", "default_cashback_percentage": 5.5}', content_type="application/json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["default_cashback_percentage"] == "5.50"


def test_create_merchant_negative_zero_percentage_is_shown_as_zero(admin_client):
    # api.md §0.1: "0.00", never "-0.00"; the 201 body must match what a later GET shows.
    response = admin_client.post(
        MERCHANTS, '{"name": "Zero", "default_cashback_percentage": -0.0}', content_type="application/json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["default_cashback_percentage"] == "0.00"
    listed = admin_client.get(MERCHANTS).json()["data"]
    assert listed[0]["default_cashback_percentage"] == "0.00"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"default_cashback_percentage": "5.00"}, "name"),  # missing name
        ({"name": "Shop"}, "default_cashback_percentage"),  # missing percentage
        (create_body(name=""), "name"),
        (create_body(name="   \t "), "name"),  # empty after trimming
        (create_body(name="x" * 256), "name"),  # 255 max
        (create_body(name=123), "name"),  # a number is not a string
        (create_body(name=None), "name"),  # null is not "absent"
        (create_body(name=["Shop"]), "name"),
        (create_body(name="Sh\x00op"), "name"),  # PostgreSQL cannot store NUL: 400, not 500
        (create_body(default_cashback_percentage="-0.01"), "default_cashback_percentage"),
        (create_body(default_cashback_percentage=-1), "default_cashback_percentage"),
        (create_body(default_cashback_percentage="20.01"), "default_cashback_percentage"),
        (create_body(default_cashback_percentage=Decimal("20.01")), "default_cashback_percentage"),
        (create_body(default_cashback_percentage="5.001"), "default_cashback_percentage"),  # 3 decimals
        (create_body(default_cashback_percentage=Decimal("5.125")), "default_cashback_percentage"),
        (create_body(default_cashback_percentage="1" + "0" * 40), "default_cashback_percentage"),
        (create_body(default_cashback_percentage=10**40), "default_cashback_percentage"),
        (create_body(default_cashback_percentage="abc"), "default_cashback_percentage"),
        (create_body(default_cashback_percentage="1e1"), "default_cashback_percentage"),  # R-207 exponent
        (create_body(default_cashback_percentage="NaN"), "default_cashback_percentage"),
        (create_body(default_cashback_percentage=True), "default_cashback_percentage"),
        (create_body(default_cashback_percentage=None), "default_cashback_percentage"),
        (create_body(active="true"), "active"),  # no coercion
        (create_body(active=1), "active"),
        (create_body(active=None), "active"),
    ],
    ids=lambda value: None if isinstance(value, dict) else value,
)
def test_create_merchant_bad_input_is_400_validation_error_naming_the_field(admin_client, body, field):
    response = admin_client.post(MERCHANTS, body, format="json")

    assert violation_fields(response) == [field]
    assert error_of(response)["message"]
    assert not Merchant.objects.exists()
    assert not AuditLog.objects.filter(resource_type="merchant").exists()  # refused API calls write no audit row


@pytest.mark.parametrize(
    "raw",
    [
        '{"name": "X", "default_cashback_percentage": 1e1}',  # exponent notation
        '{"name": "X", "default_cashback_percentage": NaN}',
        '{"name": "X", "default_cashback_percentage": Infinity}',
    ],
)
def test_create_merchant_non_plain_json_numbers_are_400(admin_client, raw):
    response = admin_client.post(MERCHANTS, raw, content_type="application/json")

    assert response.status_code == 400
    assert error_of(response)["code"] == "VALIDATION_ERROR"
    assert not Merchant.objects.exists()


def test_create_merchant_accepts_a_name_of_exactly_255_chars_after_trimming_r30(admin_client):
    name = "n" * 255
    response = admin_client.post(MERCHANTS, create_body(name=f"  {name}  "), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["name"] == name


def test_create_merchant_reports_all_violations_of_one_request_together(admin_client):
    # api.md §0.4: every violation found in one pass.
    response = admin_client.post(
        MERCHANTS, {"name": "   ", "default_cashback_percentage": "20.01", "active": "yes"}, format="json"
    )

    assert sorted(violation_fields(response)) == ["active", "default_cashback_percentage", "name"]


@pytest.mark.parametrize("raw", ["[]", "null", '"x"', "{not json"])
def test_create_merchant_body_that_is_not_a_json_object_is_400_on_field_body_r207(admin_client, raw):
    response = admin_client.post(MERCHANTS, raw, content_type="application/json")

    assert violation_fields(response) == ["body"]


def test_create_merchant_with_non_json_content_type_is_415(admin_client):
    response = admin_client.post(MERCHANTS, "name=x", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert error_of(response)["code"] == "UNSUPPORTED_MEDIA_TYPE"


@pytest.mark.parametrize("duplicate", ["acme shop", "ACME SHOP", "  Acme Shop  ", "\tacme SHOP"])
def test_create_merchant_duplicate_name_case_insensitive_and_trimmed_is_409_r30_r203(admin_client, duplicate):
    MerchantFactory(name="Acme Shop")

    response = admin_client.post(MERCHANTS, create_body(name=duplicate), format="json")

    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "MERCHANT_NAME_ALREADY_EXISTS"
    assert error["details"] == {"name": duplicate.strip()}
    assert Merchant.objects.count() == 1
    assert not AuditLog.objects.filter(action=AuditAction.MERCHANT_CREATED).exists()


def test_create_merchant_validation_is_checked_before_name_conflict(admin_client):
    MerchantFactory(name="Acme Shop")

    response = admin_client.post(MERCHANTS, create_body(default_cashback_percentage="21"), format="json")

    assert violation_fields(response) == ["default_cashback_percentage"]


def test_create_merchant_anonymous_is_401_invalid_token(api_client):
    response = api_client.post(MERCHANTS, create_body(), format="json")

    assert response.status_code == 401
    assert error_of(response)["code"] == "INVALID_TOKEN"
    assert response["WWW-Authenticate"] == "Bearer"
    assert not Merchant.objects.exists()


def test_create_merchant_anonymous_with_invalid_body_is_still_401(api_client):
    response = api_client.post(MERCHANTS, {"name": ""}, format="json")

    assert response.status_code == 401


def test_create_merchant_by_plain_user_is_403_forbidden_with_roles(user_client):
    response = user_client.post(MERCHANTS, create_body(), format="json")

    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "FORBIDDEN"
    assert error["details"] == {"required_role": "admin", "current_role": "user"}
    assert not Merchant.objects.exists()


def test_admin_endpoint_uses_the_current_db_role_not_the_token(admin_client):
    # api.md §0.2: an admin demoted after the token was issued is a user now.
    type(admin_client.account).objects.filter(pk=admin_client.account.pk).update(role="user")

    response = admin_client.post(MERCHANTS, create_body(), format="json")

    assert response.status_code == 403
    assert error_of(response)["details"] == {"required_role": "admin", "current_role": "user"}
    assert not Merchant.objects.exists()


def test_deactivated_admin_is_401_user_inactive(admin_client):
    type(admin_client.account).objects.filter(pk=admin_client.account.pk).update(is_active=False)

    response = admin_client.get(MERCHANTS)

    assert response.status_code == 401
    assert error_of(response)["code"] == "USER_INACTIVE"


def test_create_merchant_by_plain_user_with_invalid_body_is_403_not_400(user_client):
    response = user_client.post(MERCHANTS, {}, format="json")

    assert response.status_code == 403


# --- GET /api/v1/merchants ----------------------------------------------------------------------


def names(response):
    assert response.status_code == 200, response.content
    return [item["name"] for item in response.json()["data"]]


def test_list_merchants_sorts_by_lower_name_case_insensitively(admin_client):
    for name in ["banana", "Apple", "cherry", "APRICOT", "Blueberry"]:
        MerchantFactory(name=name)

    response = admin_client.get(MERCHANTS)

    assert names(response) == ["Apple", "APRICOT", "banana", "Blueberry", "cherry"]


def test_list_merchants_item_shape_and_no_secret(admin_client):
    merchant = MerchantFactory(name="Shop", default_cashback_percentage=Decimal("7.5"), active=False)

    response = admin_client.get(MERCHANTS)

    assert response.json()["data"] == [
        {"id": str(merchant.id), "name": "Shop", "default_cashback_percentage": "7.50", "active": False}
    ]
    assert merchant.webhook_secret not in response.content.decode()


def test_list_merchants_page_shape_with_default_limit_10(admin_client):
    for n in range(12):
        MerchantFactory(name=f"m{n:02d}")

    body = admin_client.get(MERCHANTS).json()

    assert set(body) == {"data", "pagination"}
    assert body["pagination"] == {"offset": 0, "limit": 10, "total": 12}
    assert [m["name"] for m in body["data"]] == [f"m{n:02d}" for n in range(10)]


def test_list_merchants_offset_and_limit_select_the_page(admin_client):
    for n in range(12):
        MerchantFactory(name=f"m{n:02d}")

    body = admin_client.get(MERCHANTS + "/", {"offset": 10, "limit": 5}).json()

    assert [m["name"] for m in body["data"]] == ["m10", "m11"]
    assert body["pagination"] == {"offset": 10, "limit": 5, "total": 12}


def test_list_merchants_offset_past_end_is_empty_with_real_total(admin_client):
    MerchantFactory.create_batch(3)

    body = admin_client.get(MERCHANTS, {"offset": 50}).json()

    assert body == {"data": [], "pagination": {"offset": 50, "limit": 10, "total": 3}}


def test_list_merchants_empty(admin_client):
    assert admin_client.get(MERCHANTS).json() == {"data": [], "pagination": {"offset": 0, "limit": 10, "total": 0}}


@pytest.mark.parametrize(
    ("raw", "expected_active"),
    [("true", True), ("TRUE", True), ("True", True), ("1", True), ("false", False), ("FALSE", False), ("0", False)],
)
def test_list_merchants_active_filter_accepts_query_booleans(admin_client, raw, expected_active):
    MerchantFactory(name="on", active=True)
    MerchantFactory(name="off", active=False)

    response = admin_client.get(MERCHANTS, {"active": raw})

    assert names(response) == (["on"] if expected_active else ["off"])
    assert response.json()["pagination"]["total"] == 1


def test_list_merchants_without_active_filter_lists_both(admin_client):
    MerchantFactory(name="on", active=True)
    MerchantFactory(name="off", active=False)

    assert names(admin_client.get(MERCHANTS)) == ["off", "on"]


@pytest.mark.parametrize("raw", ["yes", "", "2", "t"])
def test_list_merchants_active_filter_other_values_are_400(admin_client, raw):
    response = admin_client.get(MERCHANTS, {"active": raw})

    assert violation_fields(response) == ["active"]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"offset": "-1"}, "offset"), ({"limit": "x"}, "limit")],
)
def test_list_merchants_bad_pagination_is_400(admin_client, params, field):
    assert violation_fields(admin_client.get(MERCHANTS, params)) == [field]


def test_list_merchants_reports_filter_and_pagination_violations_together(admin_client):
    # api.md §0.4: all violations found in one pass are returned together.
    response = admin_client.get(MERCHANTS, {"active": "yes", "limit": "0"})

    assert sorted(violation_fields(response)) == ["active", "limit"]


def test_list_merchants_ignores_unknown_query_parameters(admin_client):
    MerchantFactory(name="Shop")

    assert names(admin_client.get(MERCHANTS, {"page": "1", "page_size": "10"})) == ["Shop"]


def test_list_merchants_anonymous_is_401(api_client):
    response = api_client.get(MERCHANTS)

    assert response.status_code == 401
    assert error_of(response)["code"] == "INVALID_TOKEN"


def test_list_merchants_user_is_403(user_client):
    response = user_client.get(MERCHANTS)

    assert response.status_code == 403
    assert error_of(response)["details"] == {"required_role": "admin", "current_role": "user"}


def test_list_merchants_user_with_bad_filter_is_still_403(user_client):
    assert user_client.get(MERCHANTS, {"active": "yes"}).status_code == 403


@pytest.mark.parametrize("count", [1, 50])
def test_list_merchants_runs_a_constant_number_of_queries(admin_client, django_assert_num_queries, count):
    MerchantFactory.create_batch(count)

    # auth user load + count + page, whatever the number of merchants
    with django_assert_num_queries(3):
        response = admin_client.get(MERCHANTS, {"limit": 100})

    assert len(response.json()["data"]) == count


# --- PATCH /api/v1/merchants/{id}/status ----------------------------------------------------------


def test_deactivate_merchant_answers_status_change_and_audits_from_to(admin_client):
    merchant = MerchantFactory(active=True)

    response = admin_client.patch(status_url(merchant.id), {"status": "inactive"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json() == {"id": str(merchant.id), "status": "inactive"}
    merchant.refresh_from_db()
    assert merchant.active is False
    audit = AuditLog.objects.get(resource_type="merchant", resource_id=str(merchant.id))
    assert audit.action == AuditAction.MERCHANT_DEACTIVATED
    assert audit.actor_type == "admin"
    assert audit.actor_id == admin_client.account.id
    assert audit.details == {"from": "active", "to": "inactive"}


def test_activate_merchant_answers_status_change_and_audits_from_to(admin_client):
    merchant = MerchantFactory(active=False)

    response = admin_client.patch(status_url(merchant.id, "/"), {"status": "active"}, format="json")

    assert response.status_code == 200
    assert response.json() == {"id": str(merchant.id), "status": "active"}
    merchant.refresh_from_db()
    assert merchant.active is True
    audit = AuditLog.objects.get(resource_type="merchant", resource_id=str(merchant.id))
    assert audit.action == AuditAction.MERCHANT_ACTIVATED
    assert audit.details == {"from": "inactive", "to": "active"}


@pytest.mark.parametrize(("start_active", "target"), [(True, "active"), (False, "inactive")])
def test_setting_the_same_status_again_is_200_without_audit_r33(admin_client, start_active, target):
    merchant = MerchantFactory(active=start_active)
    before = Merchant.objects.get(pk=merchant.pk).updated_at

    response = admin_client.patch(status_url(merchant.id), {"status": target}, format="json")

    assert response.status_code == 200
    assert response.json() == {"id": str(merchant.id), "status": target}
    assert not AuditLog.objects.filter(resource_type="merchant").exists()
    assert Merchant.objects.get(pk=merchant.pk).updated_at == before


def test_deactivating_twice_writes_exactly_one_audit_row_r33(admin_client):
    merchant = MerchantFactory(active=True)

    first = admin_client.patch(status_url(merchant.id), {"status": "inactive"}, format="json")
    second = admin_client.patch(status_url(merchant.id), {"status": "inactive"}, format="json")

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json() == {"id": str(merchant.id), "status": "inactive"}
    assert AuditLog.objects.filter(resource_id=str(merchant.id)).count() == 1


def test_status_accepts_an_uppercase_uuid_in_the_path_r212(admin_client):
    merchant = MerchantFactory(active=True)

    response = admin_client.patch(status_url(str(merchant.id).upper()), {"status": "inactive"}, format="json")

    assert response.status_code == 200
    assert response.json()["id"] == str(merchant.id)


@pytest.mark.parametrize(
    "body",
    [{}, {"status": "paused"}, {"status": True}, {"status": None}, {"status": "ACTIVE"}, {"status": ""}],
    ids=["missing", "paused", "true", "null", "uppercase", "empty"],
)
def test_status_missing_or_invalid_is_400_on_field_status(admin_client, body):
    merchant = MerchantFactory(active=True)

    response = admin_client.patch(status_url(merchant.id), body, format="json")

    assert violation_fields(response) == ["status"]
    merchant.refresh_from_db()
    assert merchant.active is True
    assert not AuditLog.objects.filter(resource_type="merchant").exists()


@pytest.mark.parametrize(
    "merchant_id", [str(uuid.uuid4()), "not-a-uuid", "12345", uuid.uuid4().hex, "{" + str(uuid.uuid4()) + "}"]
)
def test_status_on_unknown_or_malformed_id_is_404_not_found(admin_client, merchant_id):
    response = admin_client.patch(status_url(merchant_id), {"status": "inactive"}, format="json")

    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "NOT_FOUND"
    assert error["details"] == {"resource_type": "merchant", "resource_id": merchant_id}
    assert merchant_id in error["message"]


@pytest.mark.parametrize("merchant_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_status_on_unknown_id_anonymous_is_401_before_existence(api_client, merchant_id):
    response = api_client.patch(status_url(merchant_id), {"status": "inactive"}, format="json")

    assert response.status_code == 401
    assert error_of(response)["code"] == "INVALID_TOKEN"


@pytest.mark.parametrize("merchant_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_status_on_unknown_id_by_user_is_403_before_existence(user_client, merchant_id):
    response = user_client.patch(status_url(merchant_id), {"status": "inactive"}, format="json")

    assert response.status_code == 403
    assert error_of(response)["code"] == "FORBIDDEN"


def test_status_on_existing_merchant_by_user_is_403_and_changes_nothing(user_client):
    merchant = MerchantFactory(active=True)

    response = user_client.patch(status_url(merchant.id), {"status": "inactive"}, format="json")

    assert response.status_code == 403
    merchant.refresh_from_db()
    assert merchant.active is True


@pytest.mark.parametrize("merchant_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_status_with_invalid_body_on_unknown_id_is_400_validation_before_existence(admin_client, merchant_id):
    # api.md §0.6: validation 400 → existence 404
    response = admin_client.patch(status_url(merchant_id), {"status": "paused"}, format="json")

    assert violation_fields(response) == ["status"]


def test_put_on_status_route_is_405_with_allowed_list(admin_client):
    merchant = MerchantFactory()

    response = admin_client.put(status_url(merchant.id), {"status": "inactive"}, format="json")

    assert response.status_code == 405
    error = error_of(response)
    assert error["code"] == "METHOD_NOT_ALLOWED"
    assert error["details"] == {"allowed": ["PATCH"]}


def test_put_on_status_route_by_plain_user_is_405_whatever_the_role(user_client):
    # api.md §0.6: a method the route does not have → 405 with a valid token, whatever the role.
    merchant = MerchantFactory()

    assert user_client.put(status_url(merchant.id), {"status": "inactive"}, format="json").status_code == 405


def test_put_on_status_route_anonymous_is_401(api_client):
    merchant = MerchantFactory()

    assert api_client.put(status_url(merchant.id), {"status": "inactive"}, format="json").status_code == 401


def test_delete_on_merchants_collection_is_405_for_admin_and_401_for_anonymous(admin_client, api_client):
    # no delete path; api.md §0.6: anonymous DELETE /api/v1/merchants is 401, not 405.
    admin_response = admin_client.delete(MERCHANTS)
    assert admin_response.status_code == 405
    assert error_of(admin_response)["details"] == {"allowed": ["GET", "POST"]}
    assert api_client.delete(MERCHANTS).status_code == 401


@pytest.mark.parametrize("slash", ["", "/"])
def test_there_is_no_delete_route_for_a_merchant_r8_r35(admin_client, slash):
    # /merchants/{id} is not a route at all (api.md §12), so it is an unknown route: 404.
    merchant = MerchantFactory()

    response = admin_client.delete(f"{MERCHANTS}/{merchant.id}{slash}")

    assert response.status_code == 404
    assert error_of(response)["code"] == "NOT_FOUND"
    assert Merchant.objects.filter(pk=merchant.pk).exists()
