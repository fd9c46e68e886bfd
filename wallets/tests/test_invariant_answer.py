"""LEDGER_INVARIANT_BROKEN (R-114), should it ever happen, is a bug: the client gets the standard 500
INTERNAL_SERVER_ERROR envelope — never the internal code — and the log line names the wallet."""

import logging

import pytest

from accounts.tests.factories import UserFactory
from clicknback.testing import error_of
from purchases.models import Purchase, PurchaseStatus
from purchases.tests.factories import ingest, live_offer
from wallets.models import LedgerEntry, Wallet

pytestmark = pytest.mark.django_db


def test_a_broken_ledger_invariant_answers_the_standard_500_and_is_logged_with_the_wallet_id(admin_client, caplog):
    user = UserFactory()
    purchase = ingest(user=user, merchant=live_offer().merchant, amount="100.00")  # pending 5.00
    Wallet.objects.filter(pk=user.pk).update(pending_balance=0)  # a corrupted balance (a bug elsewhere)
    entries = LedgerEntry.objects.count()

    response = admin_client.post(f"/api/v1/purchases/{purchase.pk}/confirmation")

    error = error_of(response, 500, "INTERNAL_SERVER_ERROR")
    assert set(error["details"]) == {"request_id", "timestamp"}
    assert "LEDGER" not in response.content.decode() and "balance" not in response.content.decode()
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.levelno == logging.ERROR
    assert "LEDGER_INVARIANT_BROKEN" in record.getMessage() and f"wallet_id={user.pk}" in record.getMessage()
    # Nothing was written: the purchase is still pending, no ledger entry.
    assert Purchase.objects.get(pk=purchase.pk).status == PurchaseStatus.PENDING
    assert LedgerEntry.objects.count() == entries
