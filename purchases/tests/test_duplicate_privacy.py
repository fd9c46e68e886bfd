"""R-216 under a race: two users ingesting one external id of one merchant at the same instant. The
winner's purchase is stored; the other user's 409s (from the pre-check or from the unique index, R-201)
carry nothing of it, while the winner's own retries still show their first purchase."""

import pytest

from accounts.tests.factories import UserFactory
from clicknback.testing import run_concurrently
from conftest import bearer_client
from purchases.models import Purchase
from purchases.tests.factories import live_offer

pytestmark = pytest.mark.django_db(transaction=True)


def test_racing_users_on_one_external_id_see_only_their_own_purchase_details_r216():
    users = [UserFactory(), UserFactory()]
    merchant = live_offer().merchant

    def attempt(i):
        user = users[i % 2]
        body = {"external_id": "race-1", "user_id": str(user.pk), "merchant_id": str(merchant.pk),
                "amount": f"{10 + i % 2}.00", "currency": "EUR"}
        response = bearer_client(user).post("/api/v1/purchases", body, format="json")
        return user, response.status_code, response.json()

    outcomes = run_concurrently(attempt, 12)

    stored = Purchase.objects.get()
    assert sorted(status for _, status, _ in outcomes) == [201] + [409] * 11
    for user, status, body in outcomes:
        if status != 409:
            continue
        details = body["error"]["details"]
        if user.pk == stored.user_id:
            assert details["previously_processed_amount"] == f"{stored.amount:.2f}"
        else:
            assert set(details) == {"external_id", "action"}, details
