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
