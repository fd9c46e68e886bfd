"""Issue 7: the ingestion write path in a fixed, small number of statements, every rule kept.

In a test the service's transaction is a savepoint of the test's own transaction, so SAVEPOINT and
RELEASE stand where BEGIN and COMMIT stand in production: the count below is the production count."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from offers.tests.factories import OfferFactory
from purchases.models import Purchase
from wallets.models import LedgerEntry

pytestmark = pytest.mark.django_db

# auth user, BEGIN, wallet FOR UPDATE, one read (duplicate, user, merchant, live offer, month's
# earnings), INSERT purchase ON CONFLICT, INSERT cashback, INSERT ledger, UPDATE wallet, INSERT audit, COMMIT
INGESTION_STATEMENTS = 10


def _ingest(client, user, merchant, external_id="order-1", amount="100.00"):
    return client.post("/api/v1/purchases", {
        "external_id": external_id, "user_id": str(user.pk), "merchant_id": str(merchant.pk),
        "amount": amount, "currency": "EUR",
    }, format="json")


def test_ingestion_takes_at_most_ten_statements_and_locks_the_wallet_before_reading_the_cap(user_client, user):
    offer = OfferFactory(cashback_type="percent", cashback_value=Decimal("10.00"))
    _ingest(user_client, user, offer.merchant, "warm-up")  # the first request loads caches (content types…)
    with CaptureQueriesContext(connection) as queries:
        response = _ingest(user_client, user, offer.merchant)
    assert response.status_code == 201, response.json()
    sql = [q["sql"] for q in queries.captured_queries]
    assert len(sql) <= INGESTION_STATEMENTS, "\n".join(sql)
    lock = next(i for i, s in enumerate(sql) if "FOR UPDATE" in s and "wallet" in s)
    cap_read = next(i for i, s in enumerate(sql) if "SUM(" in s.upper())
    assert lock < cap_read  # the cap is read under the wallet lock
    assert any("ON CONFLICT DO NOTHING" in s for s in sql)  # without a savepoint
    assert Purchase.objects.filter(external_id="order-1").count() == 1
    assert LedgerEntry.objects.filter(purchase__external_id="order-1").count() == 1


def test_a_duplicate_is_answered_without_writing_in_a_bounded_number_of_statements(user_client, user):
    offer = OfferFactory()
    assert _ingest(user_client, user, offer.merchant).status_code == 201
    with CaptureQueriesContext(connection) as queries:
        response = _ingest(user_client, user, offer.merchant)
    assert response.status_code == 409
    assert len(queries.captured_queries) <= 7
    assert not any(q["sql"].startswith("INSERT") for q in queries.captured_queries)
