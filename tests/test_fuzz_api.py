"""API fuzzing (issue 9): schemathesis drives every operation of the app's own OpenAPI schema
(/api/v1/schema) in-process through the WSGI app, as a user and as an admin, with positive and
negative data. Every response must be a non-500 that the schema documents (status, content type,
body). `make test` runs a bounded number of examples per operation; `make fuzz` runs many more
(FUZZ_EXAMPLES)."""

import json
import os
import zlib
from collections import Counter

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance
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
    })
    loaded = schemathesis.openapi.from_dict(spec, config=config)
    loaded.app = get_wsgi_application()
    return loaded


schema = _load_schema()


@pytest.fixture
def world(db):
    """A user and an admin, each with a confirmed purchase, a pending one and a requested payout at a
    merchant with a live offer — so about half the path ids a case draws can be replaced by real ones
    and 200 bodies get checked against the schema too, not only 404s."""
    from decimal import Decimal

    from accounts.tests.factories import AdminFactory, UserFactory
    from accounts.tokens import AccessToken
    from clicknback.audit.services import Actor
    from offers.tests.factories import OfferFactory
    from payouts import services as payouts
    from payouts.views import render_payout
    from purchases import services as purchases

    offer = OfferFactory(cashback_type="fixed", cashback_value=Decimal("50.00"),
                         monthly_cap_per_user=Decimal("1000.00"))
    accounts = {"user": UserFactory(), "admin": AdminFactory()}
    ids = {"merchant_id": [str(offer.merchant_id)], "offer_id": [str(offer.pk)]}
    for role, account in accounts.items():
        actor = Actor.of_user(account)
        confirmed, pending = (purchases.ingest_purchase(
            user_id=account.pk, merchant_id=offer.merchant_id, external_id=f"fuzz-{role}-{n}",
            amount=Decimal("120.00"), currency="EUR", actor=actor) for n in (1, 2))
        purchases.confirm_purchase(purchase_id=confirmed.pk, actor=actor)
        payout = payouts.request_payout(user=account, amount=Decimal("20.00"), method="card",
                                        details={"note": "fuzz"}, idempotency_key=None, actor=actor,
                                        render=render_payout).payout
        ids[f"{role}:purchase_id"] = [str(confirmed.pk), str(pending.pk)]
        ids[f"{role}:payout_id"] = [str(payout.pk)]
        ids[f"{role}:user_id"] = [str(account.pk), "me"]
    headers = {role: {"Authorization": f"Bearer {AccessToken.for_account(account)}"}
               for role, account in accounts.items()}
    return {"headers": headers, "ids": ids}


def use_real_ids(case, world, role) -> None:
    """Half of the drawn path ids (chosen from the drawn value itself, so a case replays the same)
    become ids of rows that exist and that the caller may see."""
    for name, value in list((case.path_parameters or {}).items()):
        choices = world["ids"].get(f"{role}:{name}") or world["ids"].get(name)
        if not choices or not isinstance(value, str):
            continue
        digest = zlib.crc32(value.encode("utf-8", "surrogatepass"))
        if digest % 2 == 0:
            case.path_parameters[name] = choices[(digest // 2) % len(choices)]


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


# Codes that mean "this input is malformed" (api.md §0.4, R-11); every other 4xx code on valid input is a
# documented domain answer that depends on state (PURCHASE_NOT_PENDING, PAYOUT_INVALID_TRANSITION, …).
SHAPE_CODES = {"VALIDATION_ERROR", "PASSWORD_NOT_COMPLEX_ENOUGH", "INVALID_PURCHASE_STATUS"}


def valid_input_is_never_called_malformed(ctx, response, case):
    """Positive data (it matches the schema) must not be refused as malformed. Schemathesis's own
    positive-acceptance check cannot tell a 400 VALIDATION_ERROR from a 400 PURCHASE_NOT_PENDING."""
    if case.meta is None or any(info.mode.name != "POSITIVE" for info in case.meta.components.values()):
        return None
    if case.method.upper() != case.operation.method.upper() or response.status_code < 400:
        return None
    try:
        code = json.loads(response.content)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None  # the body is judged by the schema conformance checks
    if code in SHAPE_CODES:
        raise AssertionError(f"Schema-valid request refused as malformed: {response.status_code} {code}: "
                             f"{response.content[:300]!r}")
    return True


def _call_and_validate(case, world, role):
    headers = world["headers"][role]
    documented = case.operation.method.upper()
    # The coverage phase also sends methods a route does not have (expecting 405): counted apart.
    REQUESTS_PER_OPERATION[f"{documented} {case.operation.path}" if case.method.upper() == documented
                           else "(a method the route does not have)"] += 1
    REQUESTS_PER_MODE[case.meta.generation.mode.name.lower() if case.meta else "explicit"] += 1
    if case.meta is None or all(info.mode.name == "POSITIVE" for info in case.meta.components.values()):
        meet_documented_dependencies(case)
        use_real_ids(case, world, role)
    if case.meta is not None and _is_negative(case, "header"):
        headers = {}  # the case itself is about its headers (e.g. Authorization left out): send them as drawn
    case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance],
                           additional_checks=[valid_input_is_never_called_malformed])


@schema.parametrize()
@FUZZ_SETTINGS
def test_every_operation_as_a_user_answers_what_the_schema_documents(case, wsgi_app, world):
    _call_and_validate(case, world, "user")


@schema.parametrize()
@FUZZ_SETTINGS
def test_every_operation_as_an_admin_answers_what_the_schema_documents(case, wsgi_app, world):
    _call_and_validate(case, world, "admin")
