"""API fuzzing (issue 9): schemathesis drives every operation of the app's own OpenAPI schema
(/api/v1/schema) in-process through the WSGI app, as a user and as an admin, with positive and
negative data. Every response must be a non-500 that the schema documents (status, content type,
body). `make test` runs a bounded number of examples per operation; `make fuzz` runs many more
(FUZZ_EXAMPLES)."""

import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

REQUESTS_PER_OPERATION: Counter = Counter()
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))


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
    import json

    spec = json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))
    loaded = schemathesis.openapi.from_dict(spec)
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


def _call_and_validate(case, headers):
    REQUESTS_PER_OPERATION[f"{case.method} {case.path}"] += 1
    case.call_and_validate(headers=headers)


@schema.parametrize()
@FUZZ_SETTINGS
def test_every_operation_as_a_user_answers_what_the_schema_documents(case, wsgi_app, bearers):
    _call_and_validate(case, bearers["user"])


@schema.parametrize()
@FUZZ_SETTINGS
def test_every_operation_as_an_admin_answers_what_the_schema_documents(case, wsgi_app, bearers):
    _call_and_validate(case, bearers["admin"])
