"""R-219: a body nested deeper than 32 levels is 400 VALIDATION_ERROR on `body`, before any field rule,
on every JSON endpoint — never a 500 (the decoder's recursion limit used to surface as one)."""

import json

import pytest
from drf_spectacular.generators import SchemaGenerator

from accounts.tests.factories import AdminFactory, UserFactory
from clicknback.parsers import MAX_JSON_DEPTH, TOO_DEEP, nesting_depth
from conftest import bearer_client
from merchants.tests.factories import MerchantFactory
from offers.tests.factories import OfferFactory
from purchases.tests import signing
from purchases.tests.factories import ingest, live_offer

pytestmark = pytest.mark.django_db


def nested_object(levels: int) -> str:
    """An object `levels` deep: {"a": {"a": … {} …}}."""
    return '{"a": ' * (levels - 1) + "{}" + "}" * (levels - 1)


def nested_in_a_field(levels: int) -> str:
    """An object whose `email` holds arrays, `levels` deep in all."""
    return '{"email": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}"


def is_too_deep(response, *, valid_json: bool = True) -> bool:
    """400 VALIDATION_ERROR with one violation on `body`: "too deep" for valid JSON; for invalid JSON
    that is also too deep, whichever of the two the decoder noticed first."""
    if response.status_code != 400:
        return False
    error = response.json()["error"]
    [violation] = error["details"]["violations"]
    reasons = {TOO_DEEP} if valid_json else {TOO_DEEP, "Request body is not valid JSON."}
    return error["code"] == "VALIDATION_ERROR" and violation["field"] == "body" and violation["reason"] in reasons


def test_depth_counts_arrays_and_objects_alike():
    assert nesting_depth({}) == 1
    assert nesting_depth({"a": [1, {"b": []}], "c": "text"}) == 4
    assert nesting_depth(json.loads(nested_object(40))) > MAX_JSON_DEPTH


@pytest.mark.parametrize(
    "body",
    [
        nested_object(MAX_JSON_DEPTH + 1),
        nested_in_a_field(MAX_JSON_DEPTH + 1),
        "[" * 5000,  # not even valid JSON: the decoder gave up with a RecursionError (a 500) before
        "[" * 5000 + "]" * 5000,
        "[" * 32000 + "]" * 32000,  # as deep as 64 KiB allows
    ],
    ids=["object-33", "array-in-a-field-33", "5000-open-brackets", "5000-levels-valid", "32000-levels-valid"],
)
def test_too_deep_bodies_are_400_on_body_r219(api_client, body):
    response = api_client.generic("POST", "/api/v1/users", body, content_type="application/json")

    assert is_too_deep(response, valid_json=not body.endswith("[")), response.content[:300]


def test_32_levels_are_still_parsed_and_judged_by_the_field_rules(api_client):
    response = api_client.generic("POST", "/api/v1/users", nested_in_a_field(MAX_JSON_DEPTH),
                                  content_type="application/json")

    error = response.json()["error"]
    assert response.status_code == 400 and error["code"] == "VALIDATION_ERROR"
    assert {v["field"] for v in error["details"]["violations"]} == {"email", "password"}


def _operations_with_a_body():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if "requestBody" in operation:
                yield path, method


@pytest.fixture
def ids():
    """Real ids for every path parameter, so each route reaches its body."""
    user = UserFactory()
    offer = live_offer()
    purchase = ingest(user=user, merchant=offer.merchant)
    return user, {
        "{merchant_id}": str(MerchantFactory().pk),
        "{offer_id}": str(OfferFactory().pk),
        "{purchase_id}": str(purchase.pk),
        "{user_id}": "me",
    }


def test_every_operation_that_takes_a_json_body_answers_400_for_a_too_deep_one_r219(ids):
    deep = "[" * 5000 + "]" * 5000
    operations = list(_operations_with_a_body())
    assert len(operations) >= 10, operations
    user, path_ids = ids
    callers = [bearer_client(AdminFactory()), bearer_client(user)]
    answered = {}
    for path, method in operations:
        url = path
        for name, value in path_ids.items():
            url = url.replace(name, value)
        statuses = []
        if path == signing.WEBHOOK:
            # The webhook authenticates before it reads the body (api.md §10): a signed deep body.
            response = signing.send(live_offer().merchant, deep.encode())
            assert response.status_code != 500, (method, url, response.content[:300])
            if not is_too_deep(response):
                answered[(method, path)] = [response.status_code]
            continue
        for client in callers:
            response = client.generic(method.upper(), url, deep, content_type="application/json",
                                      HTTP_IDEMPOTENCY_KEY="depth-test")
            assert response.status_code != 500, (method, url, response.content[:300])
            statuses.append(response.status_code)
            if is_too_deep(response):
                break
        else:
            answered[(method, path)] = statuses
    assert answered == {}, f"no 400 on `body` for: {answered}"
