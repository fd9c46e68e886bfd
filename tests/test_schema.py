"""The OpenAPI schema is generated from the code without warnings and documents every route."""

import io

import pytest
import yaml
from django.core.management import call_command

# Every route this build serves (api.md §12, the endpoints built so far), canonical form.
EXPECTED_OPERATIONS = {
    ("/health/live", "get"),
    ("/health/ready", "get"),
    ("/api/v1/auth/login", "post"),
    ("/api/v1/auth/refresh", "post"),
    ("/api/v1/users", "post"),
    ("/api/v1/users/me", "get"),
    ("/api/v1/merchants", "post"),
    ("/api/v1/merchants", "get"),
    ("/api/v1/merchants/{merchant_id}/status", "patch"),
    ("/api/v1/offers", "post"),
    ("/api/v1/offers", "get"),
    ("/api/v1/offers/active", "get"),
    ("/api/v1/offers/{offer_id}", "get"),
    ("/api/v1/offers/{offer_id}/status", "patch"),
    ("/api/v1/purchases", "post"),
    ("/api/v1/purchases", "get"),
    ("/api/v1/purchases/{purchase_id}", "get"),
    ("/api/v1/purchases/{purchase_id}/confirmation", "post"),
    ("/api/v1/purchases/{purchase_id}/confirm", "post"),
    ("/api/v1/purchases/{purchase_id}/reverse", "patch"),
    ("/api/v1/purchases/{purchase_id}/reverse", "post"),
    ("/api/v1/users/me/purchases", "get"),
    ("/api/v1/users/{user_id}/purchases", "get"),
    ("/api/v1/users/me/wallet", "get"),
    ("/api/v1/users/{user_id}/wallet", "get"),
    ("/api/v1/users/me/wallet/transactions", "get"),
    ("/api/v1/users/{user_id}/wallet/transactions", "get"),
    ("/api/v1/users/me/payouts", "post"),
    ("/api/v1/users/me/payouts", "get"),
    ("/api/v1/users/{user_id}/payouts", "post"),
    ("/api/v1/users/{user_id}/payouts", "get"),
    ("/api/v1/payouts", "get"),
    ("/api/v1/payouts/{payout_id}", "get"),
    ("/api/v1/payouts/{payout_id}/status", "patch"),
    ("/api/v1/feature-flags/{key}", "put"),
    ("/api/v1/feature-flags/{key}", "delete"),
    ("/api/v1/feature-flags", "get"),
    ("/api/v1/feature-flags/{key}/evaluate", "get"),
    ("/api/v1/webhooks/purchases", "post"),
}


@pytest.fixture(scope="module")
def schema():
    out = io.StringIO()
    # --fail-on-warn turns any generator warning into an error; --validate checks OpenAPI 3.
    call_command("spectacular", "--fail-on-warn", "--validate", stdout=out)
    return yaml.safe_load(out.getvalue())


def test_schema_lists_every_route_and_method(schema):
    documented = {(path, method) for path, ops in schema["paths"].items() for method in ops}
    assert EXPECTED_OPERATIONS <= documented
    assert documented - EXPECTED_OPERATIONS <= {(p, "head") for p, _ in EXPECTED_OPERATIONS}


def test_every_protected_operation_documents_its_error_statuses(schema):
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            statuses = set(op["responses"])
            if path.startswith("/health"):
                continue
            assert any(s.startswith("4") for s in statuses), f"{method} {path} documents no error"
            anonymous = path in {"/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/users"}
            if not anonymous:
                assert "401" in statuses, f"{method} {path} lacks 401"
            if path.startswith("/api/v1/merchants") or path.endswith(("/status", "/confirmation", "/confirm", "/reverse")):
                assert "403" in statuses, f"{method} {path} lacks 403"


def test_schema_and_swagger_ui_are_served(client):
    response = client.get("/api/v1/schema?format=json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "ClickNBack API"
    assert client.get("/api/v1/schema").status_code == 200
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    # Assets come from the app itself (sidecar), not a CDN.
    assert b"cdn.jsdelivr" not in docs.content


def test_the_webhook_documents_its_signature_headers_body_and_answers(schema):
    operation = schema["paths"]["/api/v1/webhooks/purchases"]["post"]
    headers = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}
    assert set(headers) == {"X-ClickNBack-Merchant", "X-ClickNBack-Timestamp", "X-ClickNBack-Signature"}
    assert all(p["required"] for p in headers.values())
    assert set(operation["responses"]) == {"200", "201", "400", "401", "404", "409", "413", "415", "422"}
    assert "INVALID_SIGNATURE" in operation["responses"]["401"]["description"]
    body_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    body = schema["components"]["schemas"][body_ref]
    assert {"event", "external_id", "user_id", "amount", "currency", "purchased_at", "reason"} <= set(body["properties"])
    assert set(body["required"]) == {"event", "external_id"}
    answer_ref = operation["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(schema["components"]["schemas"][answer_ref]["properties"]) == {
        "id", "external_id", "merchant_id", "user_id", "amount", "currency", "status", "cashback_amount",
        "created_at", "updated_at"}
    assert "bearerAuth" not in str(operation.get("security", schema.get("security", [])))  # no JWT here


# --- the schema says what the server enforces (issue 9) ------------------------------------------------

LIST_OPERATIONS = {
    "/api/v1/merchants", "/api/v1/offers", "/api/v1/offers/active", "/api/v1/purchases", "/api/v1/users/me/purchases",
    "/api/v1/users/{user_id}/purchases", "/api/v1/users/me/wallet/transactions",
    "/api/v1/users/{user_id}/wallet/transactions", "/api/v1/users/me/payouts", "/api/v1/users/{user_id}/payouts",
    "/api/v1/payouts", "/api/v1/feature-flags",
}


def _response_schema(schema, path, method="get", status="200"):
    ref = schema["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    return schema["components"]["schemas"][ref["$ref"].rsplit("/", 1)[-1]] if "$ref" in ref else ref


def test_every_list_documents_the_paginated_envelope_and_its_parameters(schema):
    """api.md §0.5: `{"data": [...], "pagination": {offset, limit, total}}`, never a bare array."""
    for path in LIST_OPERATIONS:
        envelope = _response_schema(schema, path)
        assert envelope["required"] == ["data", "pagination"], path
        assert envelope["properties"]["data"]["type"] == "array", path
        names = {p["name"] for p in schema["paths"][path]["get"]["parameters"] if p["in"] == "query"}
        assert {"offset", "limit"} <= names, path
    arrays = [path for path, ops in schema["paths"].items() if "get" in ops
              and _response_schema(schema, path).get("type") == "array"]
    assert arrays == []
    assert _response_schema(schema, "/api/v1/users/me")["type"] == "object"  # one user, not a list


@pytest.mark.parametrize("minimum, maximum", [("0.00", "20.00"), ("0.01", "10000.00"), ("0.01", "1000000.00")])
def test_the_money_pattern_accepts_exactly_the_strings_the_money_field_accepts(minimum, maximum):
    """The string half of every decimal's schema (clicknback.schema.money_pattern) against the
    field the server validates with: same verdict for edge and random numeric strings."""
    import re
    from decimal import Decimal

    from hypothesis import given, settings
    from hypothesis import strategies as st
    from rest_framework import serializers

    from clicknback.fields import MoneyField
    from clicknback.schema import money_pattern

    field = MoneyField(min_value=Decimal(minimum), max_value=Decimal(maximum))
    pattern = re.compile(money_pattern(Decimal(minimum), Decimal(maximum)))

    def server_accepts(text):
        try:
            field.run_validation(text)
        except serializers.ValidationError:
            return False
        return True

    numeric = st.from_regex(r"\A-?[0-9]{1,9}(\.[0-9]{0,4})?\Z")
    for text in ["0", "-0", "-0.00", "0.00", "0.01", "00.5", "20", "20.00", "20.01", "19.99", "10000", "10000.001",
                 "1000000.00", "1000000.01", ".5", "5.", "1e2", "-1", "0.001", "007.50", " 1", "1\n", "+1"]:
        assert bool(pattern.fullmatch(text)) == server_accepts(text), text

    @settings(max_examples=300, deadline=None)
    @given(numeric)
    def same_verdict(text):
        assert bool(pattern.fullmatch(text)) == server_accepts(text), text

    same_verdict()
