"""Builders for the payouts tests.

Money reaches a wallet only through the real services (offer → ingestion → confirmation), payouts
are requested and moved through payouts.services, and the ledger is proved with the real
`reconcile_wallets` command — so every balance a test looks at is one the product could produce."""

import datetime as dt
import io
import itertools
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from clicknback.audit.models import AuditLog
from clicknback.audit.services import Actor
from merchants.tests.factories import MerchantFactory
from offers import services as offer_services
from payouts import services
from payouts.models import Payout, PayoutIdempotencyKey, PayoutStatus
from payouts.views import render_payout
from purchases import services as purchase_services
from wallets.models import LedgerEntry, Wallet

D = Decimal
HUNDRED = D("100.00")
_external_ids = itertools.count(1)

# the path an admin walks to bring a new payout into each status.
PATH_TO = {
    PayoutStatus.REQUESTED: [],
    PayoutStatus.APPROVED: [PayoutStatus.APPROVED],
    PayoutStatus.PROCESSING: [PayoutStatus.APPROVED, PayoutStatus.PROCESSING],
    PayoutStatus.PAID: [PayoutStatus.APPROVED, PayoutStatus.PROCESSING, PayoutStatus.PAID],
    PayoutStatus.FAILED: [PayoutStatus.APPROVED, PayoutStatus.PROCESSING, PayoutStatus.FAILED],
    PayoutStatus.REJECTED: [PayoutStatus.REJECTED],
}


def utc_now() -> dt.datetime:
    return timezone.now().astimezone(dt.UTC)


def today() -> dt.date:
    """R-3: the current UTC date."""
    return utc_now().date()


def live_merchant():
    """A merchant with a live fixed offer of 100.00 per purchase (R-50), created by the real service."""
    merchant = MerchantFactory()
    offer_services.create_offer(
        merchant_id=merchant.pk, cashback_type="fixed", cashback_value=HUNDRED, start_date=today(),
        end_date=today() + dt.timedelta(days=30), monthly_cap=D("10000.00"), actor=Actor.system(),
    )
    return merchant


def earn(user, merchant, *, purchase_amount="500.00", confirm: bool = True):
    """One purchase ingested (and by default confirmed) for `user`; fixed 100.00 cashback, or the
    purchase amount when it is smaller (R-82)."""
    purchase = purchase_services.ingest_purchase(
        user_id=user.pk, merchant_id=merchant.pk, external_id=f"po-{next(_external_ids):06d}",
        amount=D(purchase_amount), currency="EUR", actor=Actor.system(),
    )
    if confirm:
        purchase = purchase_services.confirm_purchase(purchase_id=purchase.pk, actor=Actor.system())
    return purchase


def give_available(user, amount="100.00", *, merchant=None) -> list:
    """Confirmed cashback worth exactly `amount` in the user's available balance; returns the purchases."""
    merchant = merchant or live_merchant()
    remaining, purchases = D(amount), []
    while remaining > 0:
        chunk = min(remaining, HUNDRED)
        purchases.append(earn(user, merchant, purchase_amount="500.00" if chunk == HUNDRED else str(chunk)))
        remaining -= chunk
    return purchases


def request(user, amount="30.00", *, method="bank_transfer", details=None, key=None) -> Payout:
    """A payout requested through the service, as the user's own API call does."""
    outcome = services.request_payout(
        user=user, amount=D(amount), method=method, details=details or {}, idempotency_key=key,
        actor=Actor.of_user(user), render=render_payout,
    )
    return outcome.payout


def backdate(payout: Payout, *, requested_at: dt.datetime) -> Payout:
    """Move a payout's request time (the frequency and weekly rules read it, R-123/R-124)."""
    Payout.objects.filter(pk=payout.pk).update(requested_at=requested_at)
    payout.refresh_from_db()
    return payout


def hours_ago(hours: float) -> dt.datetime:
    return utc_now() - dt.timedelta(hours=hours)


def move(payout: Payout, status: str, *, admin, reason=None, external_reference=None) -> Payout:
    """Walk a requested payout to `status` along R-126 through the service."""
    for target in PATH_TO[status]:
        services.change_payout_status(
            payout_id=payout.pk, target=target, actor=Actor.of_user(admin),
            reason=reason if target in (PayoutStatus.FAILED, PayoutStatus.REJECTED) else None,
            external_reference=external_reference if target == PayoutStatus.PAID else None,
        )
    payout.refresh_from_db()
    return payout


def payout_in(status: str, *, user, admin, amount="30.00") -> Payout:
    """A funded user's payout (requested 3 days ago) walked to `status`; the user may request again."""
    give_available(user, amount)
    payout = backdate(request(user, amount), requested_at=hours_ago(72))
    return move(payout, status, admin=admin, reason="set-up")


def wallet(user) -> Wallet:
    return Wallet.objects.get(user=user)


def balances(user) -> dict:
    w = wallet(user)
    return {"pending": w.pending_balance, "available": w.available_balance, "paid": w.paid_balance,
            "clawback": w.clawback_balance}


def written_state() -> dict:
    """Everything a payout request or status change may write; equal before and after ⇒ nothing written."""
    return {
        "payouts": sorted(Payout.objects.values_list("id", "status", "updated_at")),
        "ledger": LedgerEntry.objects.count(),
        "keys": PayoutIdempotencyKey.objects.count(),
        "audit": AuditLog.objects.count(),
        "wallets": sorted(Wallet.objects.values_list(
            "user_id", "pending_balance", "available_balance", "paid_balance", "clawback_balance")),
    }


def reconcile_output() -> str:
    out = io.StringIO()
    try:
        call_command("reconcile_wallets", stdout=out, stderr=out)
    except SystemExit:
        pass  # exit 1 on a mismatch: the output below says which
    return out.getvalue()


def assert_ledger_reconciles() -> None:
    """R-113, R-183: every balance equals its ledger and C6 accounts for in-flight payouts."""
    output = reconcile_output()
    if "MISMATCH" in output or not output.rstrip().endswith(" 0 mismatches."):
        pytest.fail(f"reconcile_wallets found mismatches:\n{output}")


@pytest.fixture
def corrupts_ledger():
    """Requested by the few tests that break the ledger on purpose (ORM-written payouts, a forged balance)."""


@pytest.fixture
def ledger_reconciles_after_each_test(request, db):
    """Whatever a test did through the product, `reconcile_wallets` must still find 0 mismatches after it."""
    yield
    if "corrupts_ledger" not in request.fixturenames:
        assert_ledger_reconciles()


# --- HTTP helpers -------------------------------------------------------------------------------------

ME = "/api/v1/users/me/payouts"
PAYOUTS = "/api/v1/payouts"


def as_json(payout: Payout) -> dict:
    """The Payout representation of api.md §1, as the API renders it from the stored row."""
    import json

    payout.refresh_from_db()
    return json.loads(render_payout(payout))
