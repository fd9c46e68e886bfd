"""API fuzzing (issue 9): schemathesis drives every operation of the app's own OpenAPI schema
(/api/v1/schema) in-process through the WSGI app, as a user and as an admin, with positive and
negative data. Every response must be a non-500 that the schema documents (status, content type,
body). `make test` runs a bounded number of examples per operation; `make fuzz` runs many more
(FUZZ_EXAMPLES)."""

import json
import os
from collections import Counter

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from hypothesis import HealthCheck, settings

REQUESTS_PER_OPERATION: Counter = Counter()
REQUESTS_PER_MODE: Counter = Counter()  # positive / negative data
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))


@pytest.fixture
def wsgi_app(db):
    """The WSGI app on the test's transaction: like Django's test client, requests must not close
    the test's database connection when they end."""
    from django.core.signals import request_finished, request_started
    from django.core.wsgi import get_wsgi_application
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _load_schema():
    """The schema /api/v1/schema serves (generated without a database), bound to the WSGI app."""
    from django.core.wsgi import get_wsgi_application
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    spec = json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))
    config = SchemathesisConfig.from_dict({
        # api.md §0.1: unknown query parameters and body fields are ignored, so adding one is not invalid.
        "generation": {"allow-extra-parameters": False},
        # A documented 422 is a domain rule on valid input (payout policy, no live offer, …), not a
        # rejection of its shape; shape errors are 400 (api.md §0.4).
        "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "422",
                                                                      "429"]}},
    })
    loaded = schemathesis.openapi.from_dict(spec, config=config)
    loaded.app = get_wsgi_application()
    return loaded


schema = _load_schema()


@pytest.fixture
def bearers(db):
    from accounts.tests.factories import AdminFactory, UserFactory
    from accounts.tokens import AccessToken

    return {role: {"Authorization": f"Bearer {AccessToken.for_account(factory())}"}
            for role, factory in (("user", UserFactory), ("admin", AdminFactory))}


FUZZ_SETTINGS = settings(
    max_examples=FUZZ_EXAMPLES, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def meet_documented_dependencies(case) -> None:
    """Rules between parameters that OpenAPI 3.0 cannot state (the schema says them in words): the
    generator draws each value alone, so a valid case is made to respect them — a lower bound not
    after its upper bound (R-205), an offer starting today or later (R-43), no scope_id with a global
    flag on DELETE (api.md §11)."""
    import datetime as dt

    from django.utils import timezone

    query = case.query if isinstance(case.query, dict) else None
    if query:
        for low, high in (("date_from", "date_to"), ("start_date", "end_date")):
            if isinstance(query.get(low), str) and isinstance(query.get(high), str) and query[low] > query[high]:
                query[low], query[high] = query[high], query[low]
        if case.method == "DELETE" and query.get("scope_type") == "global":
            query.pop("scope_id", None)
    body = case.body if isinstance(case.body, dict) else None
    if body and "details" in body and case.path.endswith("/payouts"):
        body["details"] = _as_documented_details(body["details"])
    if body and case.path == "/api/v1/offers" and isinstance(body.get("start_date"), str):
        today = timezone.now().astimezone(dt.UTC).date().isoformat()
        body["start_date"] = max(body["start_date"], today)
        if isinstance(body.get("end_date"), str):
            body["end_date"] = max(body["end_date"], body["start_date"])


def _as_documented_details(details):
    """api.md §9: payout details are stored as given, at most 2 KiB serialized, without NUL (jsonb
    cannot store it) — bounds JSON Schema has no keyword for."""
    def clean(value, depth=0):
        if depth > 30:
            return None
        if isinstance(value, str):
            return value.replace("\x00", "")
        if isinstance(value, dict):
            return {clean(key, depth): clean(item, depth + 1) for key, item in value.items()}
        if isinstance(value, list):
            return [clean(item, depth + 1) for item in value]
        return value

    if not isinstance(details, dict):
        return details
    cleaned = clean(details)
    if len(json.dumps(cleaned, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")) > 2048:
        return {}
    return cleaned


def _is_negative(case, location: str) -> bool:
    return any(location in str(where).lower() and info.mode.name == "NEGATIVE"
               for where, info in case.meta.components.items())


def _call_and_validate(case, headers):
    documented = case.operation.method.upper()
    # The coverage phase also sends methods a route does not have (expecting 405): counted apart.
    REQUESTS_PER_OPERATION[f"{documented} {case.operation.path}" if case.method.upper() == documented
                           else "(a method the route does not have)"] += 1
    REQUESTS_PER_MODE[case.meta.generation.mode.name.lower() if case.meta else "explicit"] += 1
    if case.meta is None or all(info.mode.name == "POSITIVE" for info in case.meta.components.values()):
        meet_documented_dependencies(case)
    if case.meta is not None and _is_negative(case, "header"):
        headers = {}  # the case itself is about its headers (e.g. Authorization left out): send them as drawn
    case.call_and_validate(headers=headers)


@schema.parametrize()
@FUZZ_SETTINGS
def test_every_operation_as_a_user_answers_what_the_schema_documents(case, wsgi_app, bearers):
    _call_and_validate(case, bearers["user"])


@schema.parametrize()
@FUZZ_SETTINGS
def test_every_operation_as_an_admin_answers_what_the_schema_documents(case, wsgi_app, bearers):
    _call_and_validate(case, bearers["admin"])
