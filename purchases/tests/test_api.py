"""Purchases over HTTP (api.md §7, §8, aliases §0.7): APIClient + the real URLconf, asserting status,
body and what changed in the database — purchases, cashback transactions, wallets, ledger, audit.
Every money-moving test ends by proving the ledger with `reconcile_wallets` (R-182…R-185)."""

import datetime as dt
import json
import re
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import UserFactory
from clicknback import testing
from clicknback.audit.models import AuditAction, AuditLog
from clicknback.audit.services import Actor
from clicknback.testing import assert_wallets_reconcile, error_of
from conftest import bearer_client
from merchants.models import Merchant
from merchants.tests.factories import MerchantFactory
from offers import services as offer_services
from purchases import services
from purchases.exceptions import (
    DuplicatePurchase,
    MerchantNotEligible,
    OfferNotAvailable,
    UnsupportedCurrency,
    UserNotEligible,
)
from purchases.models import Purchase, PurchaseStatus
from purchases.policies import month_bounds
from purchases.tests.factories import (
    OfferFactory,
    confirm,
    ingest,
    live_offer,
    next_external_id,
    reject,
    reverse,
    simulate_paid_payout,
    today,
)
from wallets.models import CashbackTransaction, LedgerEntry, Wallet

pytestmark = pytest.mark.django_db

D = Decimal
PURCHASES = "/api/v1/purchases"
MY_PURCHASES = "/api/v1/users/me/purchases"
MY_TRANSACTIONS = "/api/v1/users/me/wallet/transactions"
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")

RESULT_KEYS = {"id", "status", "cashback_amount"}
ADMIN_ITEM_KEYS = {"id", "external_id", "user_id", "merchant_id", "offer_id", "amount", "currency", "status",
                   "cashback_amount", "created_at"}
USER_ITEM_KEYS = {"id", "merchant_name", "amount", "status", "cashback_amount", "cashback_status", "created_at"}
DETAILS_KEYS = USER_ITEM_KEYS | {"external_id", "user_id", "merchant_id", "offer_id", "currency", "updated_at"}


# --- helpers -------------------------------------------------------------------------------------


def violation_fields(response) -> set[str]:
    """The violated fields as a set: these tests do not depend on the order the API lists them in."""
    return set(testing.violation_fields(response))


def body_for(user, merchant, **overrides) -> dict:
    return {"external_id": next_external_id(), "user_id": str(user.pk), "merchant_id": str(merchant.pk),
            "amount": "100.00", "currency": "EUR", **overrides}


def post_raw(client, text: str):
    """A body exactly as written (JSON numbers, exponents), not re-encoded by the test client."""
    return client.post(PURCHASES, data=text, content_type="application/json")


def balances(user) -> dict:
    wallet = Wallet.objects.get(user=user)
    return {"pending": wallet.pending_balance, "available": wallet.available_balance,
            "paid": wallet.paid_balance, "clawback": wallet.clawback_balance}


def zero_balances(**changes) -> dict:
    return {"pending": D("0.00"), "available": D("0.00"), "paid": D("0.00"), "clawback": D("0.00"),
            **{k: D(v) for k, v in changes.items()}}


def ledger_of(purchase) -> list[tuple[str, Decimal, str]]:
    return [(e.balance, e.amount, e.reason) for e in LedgerEntry.objects.filter(purchase=purchase).order_by("id")]


def written_state() -> dict:
    """Everything a purchase command may write; compared before/after a refused request (api.md §7)."""
    return {
        "purchases": sorted(Purchase.objects.values_list("id", "status", "cashback_amount")),
        "cashback": sorted(CashbackTransaction.objects.values_list("id", "status")),
        "ledger": LedgerEntry.objects.count(),
        "audit": AuditLog.objects.filter(resource_type="purchase").count(),
        "wallets": sorted(Wallet.objects.values_list("user_id", "pending_balance", "available_balance",
                                                     "paid_balance", "clawback_balance")),
    }


def purchase_url(purchase_or_id, suffix: str = "") -> str:
    purchase_id = getattr(purchase_or_id, "pk", purchase_or_id)
    return f"{PURCHASES}/{purchase_id}{suffix}"


@pytest.fixture
def offer(db):
    """percent 5.00, cap 100.00, live from today (R-50)."""
    return live_offer()


@pytest.fixture
def merchant(offer):
    return offer.merchant


@pytest.fixture
def other_user(db):
    return UserFactory()


# --- POST /api/v1/purchases: success ------------------------------------------------------------


def test_ingestion_answers_201_with_computed_cashback_and_records_purchase_cashback_wallet_ledger_audit(
    user_client, user, merchant, offer
):
    body = body_for(user, merchant, external_id="ord-1001", currency="eur")
    response = user_client.post(PURCHASES, body, format="json")

    assert response.status_code == 201, response.content
    result = response.json()
    assert set(result) == RESULT_KEYS
    assert result["status"] == "pending"
    assert result["cashback_amount"] == "5.00"  # the computed value, not 0.00

    purchase = Purchase.objects.get(pk=result["id"])
    assert purchase.status == PurchaseStatus.PENDING
    assert purchase.offer_id == offer.pk  # the system picked the live offer
    assert purchase.user_id == user.pk and purchase.merchant_id == merchant.pk
    assert purchase.external_id == "ord-1001"
    assert purchase.amount == D("100.00")
    assert purchase.currency == "EUR"  # stored upper-case
    assert purchase.cashback_amount == D("5.00")
    assert purchase.source == "api"

    cashback = CashbackTransaction.objects.get(purchase=purchase)
    assert (cashback.user_id, cashback.amount, cashback.status) == (user.pk, D("5.00"), "pending")

    assert balances(user) == zero_balances(pending="5.00")
    entry = LedgerEntry.objects.get()  # exactly one entry
    assert (entry.purchase_id, entry.balance, entry.amount, entry.balance_after, entry.reason) == (
        purchase.pk, "pending", D("5.00"), D("5.00"), "cashback_earned")
    assert (entry.actor_type, entry.actor_id) == ("user", user.pk)

    audit = AuditLog.objects.get(resource_type="purchase")
    assert audit.action == AuditAction.PURCHASE_INGESTED
    assert audit.resource_id == str(purchase.pk)
    assert (audit.actor_type, audit.actor_id, audit.outcome) == ("user", user.pk, "success")
    assert audit.details["cashback_amount"] == "5.00"
    assert_wallets_reconcile()


def test_ingestion_with_trailing_slash_is_the_same_endpoint(user_client, user, merchant):
    response = user_client.post(PURCHASES + "/", body_for(user, merchant), format="json")
    assert response.status_code == 201, response.content
    assert Purchase.objects.count() == 1


def test_ingestion_accepts_amount_as_json_number_parsed_as_decimal(user_client, user, merchant):
    body = body_for(user, merchant)
    text = json.dumps({**body, "amount": "__AMOUNT__"}).replace('"__AMOUNT__"', "10.10")
    response = post_raw(user_client, text)

    assert response.status_code == 201, response.content
    assert response.json()["cashback_amount"] == "0.50"  # 0.505 → 0.50, half-even
    assert Purchase.objects.get().amount == D("10.10")
    assert_wallets_reconcile()


def test_admin_may_ingest_their_own_purchase_and_is_audited_as_admin(admin_client, admin_user, merchant):
    response = admin_client.post(PURCHASES, body_for(admin_user, merchant), format="json")
    assert response.status_code == 201, response.content
    assert AuditLog.objects.get(resource_type="purchase").actor_type == "admin"
    assert balances(admin_user) == zero_balances(pending="5.00")


@pytest.mark.parametrize("amount, cashback", [("0.01", "0.00"), ("1000000.00", "100.00")])
def test_ingestion_accepts_the_amount_bounds(user_client, user, merchant, amount, cashback):
    # 0.01 ≤ amount ≤ 1000000.00; 5 % of 1000000.00 is capped at 100.00.
    response = user_client.post(PURCHASES, body_for(user, merchant, amount=amount), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["cashback_amount"] == cashback
    assert_wallets_reconcile()


def test_ingestion_accepts_an_external_id_of_255_characters(user_client, user, merchant):
    response = user_client.post(PURCHASES, body_for(user, merchant, external_id="x" * 255), format="json")
    assert response.status_code == 201, response.content
    assert Purchase.objects.get().external_id == "x" * 255


def test_fixed_cashback_never_exceeds_the_purchase_amount(user_client, user):
    offer = live_offer(cashback_type="fixed", cashback_value="3.00")
    response = user_client.post(PURCHASES, body_for(user, offer.merchant, amount="1.50"), format="json")
    assert response.status_code == 201
    assert response.json()["cashback_amount"] == "1.50"
    assert balances(user) == zero_balances(pending="1.50")


def test_zero_cashback_at_the_cap_records_purchase_and_cashback_but_no_ledger_entry(user_client, user):
    # a capped purchase is recorded with 0.00 and flows normally, without a 0.00 entry.
    offer = live_offer(cashback_type="fixed", cashback_value="3.00", monthly_cap="6.00")
    ingest(user=user, merchant=offer.merchant)
    ingest(user=user, merchant=offer.merchant)

    response = user_client.post(PURCHASES, body_for(user, offer.merchant), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["cashback_amount"] == "0.00"
    purchase = Purchase.objects.get(pk=response.json()["id"])
    assert (purchase.status, purchase.cashback_amount, purchase.offer_id) == ("pending", D("0.00"), offer.pk)
    cashback = CashbackTransaction.objects.get(purchase=purchase)
    assert (cashback.amount, cashback.status) == (D("0.00"), "pending")
    assert ledger_of(purchase) == []
    assert LedgerEntry.objects.count() == 2
    assert balances(user) == zero_balances(pending="6.00")
    assert AuditLog.objects.filter(action=AuditAction.PURCHASE_INGESTED, resource_id=str(purchase.pk)).exists()
    assert_wallets_reconcile()

    # ... and it confirms normally, still without an entry.
    confirm(purchase)
    assert ledger_of(purchase) == []
    assert CashbackTransaction.objects.get(purchase=purchase).status == "available"
    assert_wallets_reconcile()


def test_a_reversed_or_rejected_purchase_frees_room_under_the_cap(user_client, user):
    # reversed and rejected purchases do not count towards `earned`.
    offer = live_offer(cashback_type="fixed", cashback_value="3.00", monthly_cap="6.00")
    first = ingest(user=user, merchant=offer.merchant)
    second = ingest(user=user, merchant=offer.merchant)
    reverse(first)
    reject(second)

    responses = [user_client.post(PURCHASES, body_for(user, offer.merchant), format="json") for _ in range(3)]

    assert [r.json()["cashback_amount"] for r in responses] == ["3.00", "3.00", "0.00"]
    assert balances(user) == zero_balances(pending="6.00")
    assert_wallets_reconcile()


def test_cap_counts_only_this_utc_month_and_this_offer(user_client, user):
    # R-83 (UTC calendar month, R-3) and the cap is per (user, offer).
    offer = live_offer(cashback_type="fixed", cashback_value="3.00", monthly_cap="6.00")
    last_month = ingest(user=user, merchant=offer.merchant)
    this_month = ingest(user=user, merchant=offer.merchant)
    start, _ = month_bounds(timezone.now())
    Purchase.objects.filter(pk=last_month.pk).update(created_at=start - dt.timedelta(microseconds=1))
    Purchase.objects.filter(pk=this_month.pk).update(created_at=start)

    response = user_client.post(PURCHASES, body_for(user, offer.merchant), format="json")
    assert response.json()["cashback_amount"] == "3.00"  # only `this_month` counted: 6 − 3
    response = user_client.post(PURCHASES, body_for(user, offer.merchant), format="json")
    assert response.json()["cashback_amount"] == "0.00"

    # A successor offer of the same merchant has its own cap.
    offer_services.set_offer_active(offer_id=offer.pk, active=False, actor=Actor.system())
    successor = live_offer(merchant=offer.merchant, cashback_type="fixed", cashback_value="3.00",
                           monthly_cap="6.00")
    response = user_client.post(PURCHASES, body_for(user, offer.merchant), format="json")
    assert response.json()["cashback_amount"] == "3.00"
    assert Purchase.objects.get(pk=response.json()["id"]).offer_id == successor.pk
    assert_wallets_reconcile()


def test_another_users_earnings_do_not_use_up_the_callers_cap(user_client, user, other_user):
    offer = live_offer(cashback_type="fixed", cashback_value="3.00", monthly_cap="3.00")
    ingest(user=other_user, merchant=offer.merchant)
    response = user_client.post(PURCHASES, body_for(user, offer.merchant), format="json")
    assert response.json()["cashback_amount"] == "3.00"


@pytest.mark.parametrize("window", ["ends_today", "starts_today"])
def test_offer_window_bounds_are_inclusive(user_client, user, window):
    # start_date ≤ today ≤ end_date, both inclusive.
    if window == "ends_today":
        offer = OfferFactory(start_date=today() - dt.timedelta(days=10), end_date=today())
    else:
        offer = OfferFactory(start_date=today(), end_date=today())
    response = user_client.post(PURCHASES, body_for(user, offer.merchant), format="json")
    assert response.status_code == 201, response.content
    assert Purchase.objects.get().offer_id == offer.pk


def test_same_external_id_at_another_merchant_is_a_new_purchase(user_client, user, merchant):
    # the idempotency key is (merchant, external_id).
    other = live_offer().merchant
    first = user_client.post(PURCHASES, body_for(user, merchant, external_id="ord-7"), format="json")
    second = user_client.post(PURCHASES, body_for(user, other, external_id="ord-7"), format="json")
    assert (first.status_code, second.status_code) == (201, 201)
    assert Purchase.objects.filter(external_id="ord-7").count() == 2
    assert balances(user) == zero_balances(pending="10.00")
    assert_wallets_reconcile()


# --- POST /api/v1/purchases: errors in the order of api.md §7 -----------------------------------


def test_missing_fields_are_all_reported_together(user_client, merchant):
    before = written_state()
    response = user_client.post(PURCHASES, {}, format="json")
    assert violation_fields(response) == {"external_id", "user_id", "merchant_id", "amount", "currency"}
    assert written_state() == before


def test_wrong_types_are_400_without_coercion(user_client, user, merchant):
    # no coercion — a boolean is not an amount, a number is not a uuid or a string.
    body = body_for(user, merchant, amount=True, user_id=123, external_id=5, merchant_id=None, currency=978)
    response = user_client.post(PURCHASES, body, format="json")
    assert violation_fields(response) == {"amount", "user_id", "external_id", "merchant_id", "currency"}
    assert Purchase.objects.count() == 0


@pytest.mark.parametrize("amount", [
    0, -1, "0", "-1", "0.00", "0.001", "10.001", "1000000.01", "1e3", "1E3", "abc", "", "NaN", "Infinity",
    "99999999999999999999999999999999.00", 10 ** 40, None, [], {},
])
def test_bad_amounts_are_400_on_field_amount(user_client, user, merchant, amount):
    # > 0, ≤ 1000000.00, ≤ 2 decimals, plain notation; never rounded.
    before = written_state()
    response = user_client.post(PURCHASES, body_for(user, merchant, amount=amount), format="json")
    assert violation_fields(response) == {"amount"}
    assert written_state() == before


@pytest.mark.parametrize("raw_amount", ["1e3", "1E+2", "0.001", "1000000.01", "1" + "0" * 400, "1e400", "-0.5"])
def test_bad_amounts_as_json_numbers_are_400(user_client, user, merchant, raw_amount):
    # api.md §0.1: JSON numbers are Decimal, plain notation only.
    text = json.dumps({**body_for(user, merchant), "amount": "__A__"}).replace('"__A__"', raw_amount)
    response = post_raw(user_client, text)
    assert violation_fields(response) == {"amount"}
    assert Purchase.objects.count() == 0


@pytest.mark.parametrize("currency", ["EU", "EURO", "", "E"])
def test_currency_must_be_exactly_three_characters(user_client, user, merchant, currency):
    response = user_client.post(PURCHASES, body_for(user, merchant, currency=currency), format="json")
    assert violation_fields(response) == {"currency"}
    assert Purchase.objects.count() == 0


@pytest.mark.parametrize("external_id", ["", "x" * 256])
def test_external_id_must_have_1_to_255_characters(user_client, user, merchant, external_id):
    response = user_client.post(PURCHASES, body_for(user, merchant, external_id=external_id), format="json")
    assert violation_fields(response) == {"external_id"}
    assert Purchase.objects.count() == 0


@pytest.mark.parametrize("text", ["[]", "null", '"x"', "{bad json"])
def test_a_body_that_is_not_a_json_object_is_400_on_body(user_client, text):
    assert violation_fields(post_raw(user_client, text)) == {"body"}


def test_validation_400_comes_before_ownership_403(user_client, other_user, merchant):
    response = user_client.post(PURCHASES, body_for(other_user, merchant, amount="0"), format="json")
    assert violation_fields(response) == {"amount"}


@pytest.mark.parametrize("caller", ["user", "admin"])
def test_ingesting_for_another_user_is_403_for_everyone_before_any_other_rule(
    caller, user, admin_user, other_user, merchant
):
    # ownership is #2 — before duplicate, currency, merchant and offer checks.
    existing = ingest(user=other_user, merchant=merchant)
    client = bearer_client(user if caller == "user" else admin_user)
    before = written_state()
    duplicate_in_usd = body_for(other_user, merchant, external_id=existing.external_id, currency="USD")
    response = client.post(PURCHASES, duplicate_in_usd, format="json")
    error = error_of(response, 403, "FORBIDDEN")
    assert set(error["details"]) == {"reason"} and error["details"]["reason"]
    assert written_state() == before

    unknown_merchant = body_for(other_user, MerchantFactory.build(), currency="USD")  # ... or nothing valid
    error_of(client.post(PURCHASES, unknown_merchant, format="json"), 403, "FORBIDDEN")
    assert written_state() == before


def test_duplicate_external_id_is_409_with_the_first_purchase_and_writes_nothing(user_client, user, merchant):
    first = user_client.post(PURCHASES, body_for(user, merchant, external_id="ord-1", amount="80.00"), format="json")
    assert first.status_code == 201
    stored = Purchase.objects.get()
    before = written_state()

    response = user_client.post(PURCHASES, body_for(user, merchant, external_id="ord-1", amount="12.00"),
                                format="json")

    error = error_of(response, 409, "DUPLICATE_PURCHASE")
    details = error["details"]
    assert set(details) == {"external_id", "previously_created_at", "previously_processed_amount", "action"}
    assert details["external_id"] == "ord-1"
    assert details["previously_created_at"] == stored.created_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert details["previously_processed_amount"] == "80.00"  # the stored amount, not its cashback 4.00
    assert isinstance(details["action"], str) and details["action"]
    assert written_state() == before
    assert balances(user) == zero_balances(pending="4.00")
    assert_wallets_reconcile()


def test_duplicate_409_comes_before_currency_merchant_and_offer_checks(user_client, user, merchant, offer):
    ingest(user=user, merchant=merchant, external_id="ord-9")
    offer_services.set_offer_active(offer_id=offer.pk, active=False, actor=Actor.system())
    Merchant.objects.filter(pk=merchant.pk).update(active=False)
    before = written_state()

    response = user_client.post(PURCHASES, body_for(user, merchant, external_id="ord-9", currency="USD"),
                                format="json")
    error_of(response, 409, "DUPLICATE_PURCHASE")  # duplicate → currency → user → merchant → offer
    assert written_state() == before


def test_duplicate_of_another_users_purchase_is_409_and_reveals_no_time_or_amount_r216(
    user_client, user, other_user, merchant
):
    # the key is (merchant, external_id), whoever recorded it.
    ingest(user=other_user, merchant=merchant, external_id="shared-1", amount="73.10")
    response = user_client.post(PURCHASES, body_for(user, merchant, external_id="shared-1"), format="json")
    error = error_of(response, 409, "DUPLICATE_PURCHASE")
    # only the key and the advice; nothing of the other user's purchase.
    assert set(error["details"]) == {"external_id", "action"}
    assert error["details"]["external_id"] == "shared-1"
    assert "73.10" not in response.content.decode()
    assert balances(user) == zero_balances()


def test_admin_duplicate_of_a_users_purchase_reveals_nothing_either_r216(admin_user, user, merchant):
    # Even an admin (who may read the purchase elsewhere) records only their own purchases:
    # the 409 is about the caller's ingestion, not a way to read someone else's.
    ingest(user=user, merchant=merchant, external_id="shared-2")
    response = bearer_client(admin_user).post(
        PURCHASES, body_for(admin_user, merchant, external_id="shared-2"), format="json"
    )
    assert set(error_of(response, 409, "DUPLICATE_PURCHASE")["details"]) == {"external_id", "action"}


def test_unsupported_currency_is_422_before_merchant_checks(user_client, user):
    before = written_state()
    unknown_merchant = str(uuid.uuid4())
    response = user_client.post(PURCHASES, {**body_for(user, MerchantFactory.build(), currency="USD"),
                                            "merchant_id": unknown_merchant}, format="json")
    error = error_of(response, 422, "UNSUPPORTED_CURRENCY")
    assert error["details"]["currency"] == "USD"
    assert set(error["details"]) == {"currency", "reason"} and error["details"]["reason"]
    assert written_state() == before


def test_unknown_merchant_is_422_merchant_not_eligible(user_client, user, offer):
    merchant_id = str(uuid.uuid4())
    before = written_state()
    response = user_client.post(PURCHASES, {**body_for(user, offer.merchant), "merchant_id": merchant_id},
                                format="json")
    error = error_of(response, 422, "MERCHANT_NOT_ELIGIBLE")
    assert error["details"]["merchant_id"] == merchant_id
    assert set(error["details"]) == {"merchant_id", "reason"} and error["details"]["reason"]
    assert written_state() == before


def test_inactive_merchant_is_422_merchant_not_eligible_even_with_a_live_offer_row(user_client, user, merchant):
    # R-66 before R-67: the merchant check answers first.
    Merchant.objects.filter(pk=merchant.pk).update(active=False)
    before = written_state()
    response = user_client.post(PURCHASES, body_for(user, merchant), format="json")
    error = error_of(response, 422, "MERCHANT_NOT_ELIGIBLE")
    assert error["details"]["merchant_id"] == str(merchant.pk)
    assert written_state() == before


@pytest.mark.parametrize("situation", ["no_offer", "inactive_offer", "expired_window", "not_started"])
def test_no_live_offer_is_422_offer_not_available_and_nothing_is_recorded(user_client, user, situation):
    # no fallback to default_cashback_percentage; nothing recorded.
    if situation == "no_offer":
        merchant = MerchantFactory()
    elif situation == "inactive_offer":
        merchant = live_offer(active=False).merchant
    elif situation == "expired_window":
        day = dt.timedelta(days=1)
        merchant = OfferFactory(start_date=today() - 30 * day, end_date=today() - day).merchant
    else:
        day = dt.timedelta(days=1)
        merchant = OfferFactory(start_date=today() + day, end_date=today() + 30 * day).merchant
    before = written_state()

    response = user_client.post(PURCHASES, body_for(user, merchant), format="json")

    error = error_of(response, 422, "OFFER_NOT_AVAILABLE")
    assert error["details"]["merchant_id"] == str(merchant.pk)
    assert set(error["details"]) == {"merchant_id", "reason"} and error["details"]["reason"]
    assert written_state() == before
    assert balances(user) == zero_balances()


def test_anonymous_ingestion_is_401(api_client, user, merchant):
    response = api_client.post(PURCHASES, body_for(user, merchant), format="json")
    error_of(response, 401, "INVALID_TOKEN")
    assert Purchase.objects.count() == 0


# --- ingestion service: checks the API cannot reach ---------------------------------------------


def test_service_refuses_an_inactive_user_with_user_not_eligible_and_writes_nothing(merchant):
    # R-65 (reachable through the webhook; over the API an inactive caller is already 401).
    inactive = UserFactory(is_active=False)
    before = written_state()
    with pytest.raises(UserNotEligible) as raised:
        ingest(user=inactive, merchant=merchant, actor=Actor.system())
    assert raised.value.status == 422
    assert raised.value.details["user_id"] == str(inactive.pk) and raised.value.details["reason"]
    assert written_state() == before


def test_service_refuses_an_unknown_user_with_user_not_eligible_and_creates_no_wallet(merchant):
    ghost = uuid.uuid4()
    before = written_state()
    with pytest.raises(UserNotEligible) as raised:
        services.ingest_purchase(user_id=ghost, merchant_id=merchant.pk, external_id="ord-x", amount=D("10.00"),
                                 currency="EUR", actor=Actor.system())
    assert raised.value.details["user_id"] == str(ghost)
    assert written_state() == before
    assert not Wallet.objects.filter(user_id=ghost).exists()


def test_service_check_order_currency_then_user_then_merchant_then_offer(user):
    # each failure masks the ones after it.
    inactive = UserFactory(is_active=False)
    no_offer = MerchantFactory()
    unknown_merchant = MerchantFactory.build()
    with pytest.raises(UnsupportedCurrency):
        ingest(user=inactive, merchant=unknown_merchant, currency="USD")
    with pytest.raises(UserNotEligible):
        ingest(user=inactive, merchant=unknown_merchant)
    with pytest.raises(MerchantNotEligible):
        ingest(user=user, merchant=unknown_merchant)
    with pytest.raises(OfferNotAvailable):
        ingest(user=user, merchant=no_offer)
    assert Purchase.objects.count() == 0


def test_service_duplicate_comes_before_an_inactive_user(user, merchant):
    first = ingest(user=user, merchant=merchant)
    inactive = UserFactory(is_active=False)
    with pytest.raises(DuplicatePurchase):
        ingest(user=inactive, merchant=merchant, external_id=first.external_id)


# --- GET /api/v1/purchases (admin) ----------------------------------------------------------------


def set_created_at(purchase, moment: dt.datetime) -> None:
    Purchase.objects.filter(pk=purchase.pk).update(created_at=moment)


def ids_of(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["data"]]


def test_admin_list_shape_and_newest_first(admin_client, user, merchant, offer):
    older = ingest(user=user, merchant=merchant, amount="20.00")
    newer = ingest(user=user, merchant=merchant, amount="30.00")
    set_created_at(older, dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC))
    set_created_at(newer, dt.datetime(2026, 1, 6, 12, 0, tzinfo=dt.UTC))

    response = admin_client.get(PURCHASES)

    assert ids_of(response) == [str(newer.pk), str(older.pk)]
    assert response.json()["pagination"] == {"offset": 0, "limit": 10, "total": 2}
    item = response.json()["data"][0]
    assert set(item) == ADMIN_ITEM_KEYS
    assert item == {
        "id": str(newer.pk), "external_id": newer.external_id, "user_id": str(user.pk),
        "merchant_id": str(merchant.pk), "offer_id": str(offer.pk), "amount": "30.00", "currency": "EUR",
        "status": "pending", "cashback_amount": "1.50", "created_at": "2026-01-06T12:00:00.000000Z",
    }


def test_admin_list_filters_by_status_user_and_merchant(admin_client, user, other_user, merchant):
    other_merchant = live_offer().merchant
    mine = ingest(user=user, merchant=merchant)
    confirmed = confirm(ingest(user=user, merchant=other_merchant))
    theirs = ingest(user=other_user, merchant=merchant)

    assert ids_of(admin_client.get(PURCHASES, {"status": "confirmed"})) == [str(confirmed.pk)]
    assert set(ids_of(admin_client.get(PURCHASES, {"status": "pending"}))) == {str(mine.pk), str(theirs.pk)}
    assert ids_of(admin_client.get(PURCHASES, {"status": "reversed"})) == []
    assert set(ids_of(admin_client.get(PURCHASES, {"user_id": str(user.pk)}))) == {str(mine.pk), str(confirmed.pk)}
    assert set(ids_of(admin_client.get(PURCHASES, {"merchant_id": str(merchant.pk)}))) == {str(mine.pk), str(theirs.pk)}
    assert ids_of(admin_client.get(PURCHASES, {"merchant_id": str(merchant.pk), "user_id": str(other_user.pk),
                                               "status": "pending"})) == [str(theirs.pk)]
    assert ids_of(admin_client.get(PURCHASES, {"user_id": str(uuid.uuid4())})) == []  # unknown id: empty page
    assert ids_of(admin_client.get(PURCHASES, {"user_id": str(user.pk).upper()})) != []  # any case


def test_admin_list_date_filters_are_inclusive_utc_days(admin_client, user, merchant):
    late_day1 = ingest(user=user, merchant=merchant)
    early_day2 = ingest(user=user, merchant=merchant)
    late_day2 = ingest(user=user, merchant=merchant)
    early_day3 = ingest(user=user, merchant=merchant)
    set_created_at(late_day1, dt.datetime(2026, 2, 1, 23, 59, 59, 999999, tzinfo=dt.UTC))
    set_created_at(early_day2, dt.datetime(2026, 2, 2, 0, 0, tzinfo=dt.UTC))
    set_created_at(late_day2, dt.datetime(2026, 2, 2, 23, 59, 59, 999999, tzinfo=dt.UTC))
    set_created_at(early_day3, dt.datetime(2026, 2, 3, 0, 0, tzinfo=dt.UTC))

    day2 = admin_client.get(PURCHASES, {"start_date": "2026-02-02", "end_date": "2026-02-02"})
    assert ids_of(day2) == [str(late_day2.pk), str(early_day2.pk)]
    assert set(ids_of(admin_client.get(PURCHASES, {"start_date": "2026-02-02"}))) == {
        str(early_day2.pk), str(late_day2.pk), str(early_day3.pk)}
    assert set(ids_of(admin_client.get(PURCHASES, {"end_date": "2026-02-02"}))) == {
        str(late_day1.pk), str(early_day2.pk), str(late_day2.pk)}
    assert ids_of(admin_client.get(PURCHASES, {"start_date": "2026-02-04"})) == []


@pytest.mark.parametrize("end_date", ["9999-12-31"])
def test_admin_list_accepts_the_largest_date(admin_client, user, merchant, end_date):
    purchase = ingest(user=user, merchant=merchant)
    response = admin_client.get(PURCHASES, {"start_date": "0001-01-01", "end_date": end_date})
    assert ids_of(response) == [str(purchase.pk)]


@pytest.mark.parametrize("query, field", [
    ({"start_date": "2026-02-03", "end_date": "2026-02-02"}, "start_date"),  # inverted range
    ({"user_id": "not-a-uuid"}, "user_id"),
    ({"merchant_id": "123"}, "merchant_id"),
    ({"start_date": "2026-2-3"}, "start_date"),
    ({"end_date": "yesterday"}, "end_date"),
    ({"limit": "0"}, "limit"),
    ({"offset": "-1"}, "offset"),
])
def test_admin_list_bad_query_is_400_naming_the_parameter(admin_client, query, field):
    assert violation_fields(admin_client.get(PURCHASES, query)) == {field}


def test_admin_list_unknown_status_is_422_invalid_purchase_status(admin_client):
    error = error_of(admin_client.get(PURCHASES, {"status": "paid"}), 422, "INVALID_PURCHASE_STATUS")
    assert error["details"] == {"status": "paid"}
    for allowed in ("pending", "confirmed", "rejected", "reversed"):
        assert allowed in error["message"]


@pytest.mark.parametrize("bad", [{"user_id": "nope"}, {"start_date": "2026-02-03", "end_date": "2026-02-01"},
                                 {"limit": "1000"}])
def test_admin_list_400_wins_over_422_for_an_unknown_status(admin_client, bad):
    assert violation_fields(admin_client.get(PURCHASES, {"status": "bogus", **bad})) == set(bad) - {"end_date"}


def test_admin_list_is_403_for_users_and_401_for_anonymous(user_client, api_client):
    error = error_of(user_client.get(PURCHASES), 403, "FORBIDDEN")
    assert error["details"] == {"required_role": "admin", "current_role": "user"}
    error_of(api_client.get(PURCHASES), 401, "INVALID_TOKEN")


# --- GET /api/v1/users/me/purchases and the alias -----------------------------------------------


def test_my_purchases_lists_only_mine_with_user_item_shape(user_client, user, other_user, merchant):
    pending = ingest(user=user, merchant=merchant, amount="40.00")
    confirmed = confirm(ingest(user=user, merchant=merchant, amount="60.00"))
    reversed_ = reverse(ingest(user=user, merchant=merchant, amount="20.00"))
    ingest(user=other_user, merchant=merchant)
    for purchase, moment in [(pending, 3), (confirmed, 2), (reversed_, 1)]:
        set_created_at(purchase, dt.datetime(2026, 3, moment, tzinfo=dt.UTC))

    response = user_client.get(MY_PURCHASES)

    assert response.status_code == 200
    body = response.json()
    assert body["pagination"] == {"offset": 0, "limit": 10, "total": 3}
    assert [item["id"] for item in body["data"]] == [str(pending.pk), str(confirmed.pk), str(reversed_.pk)]
    for item in body["data"]:
        assert set(item) == USER_ITEM_KEYS
        assert item["merchant_name"] == merchant.name
        assert DATETIME.match(item["created_at"])
    assert [(i["status"], i["amount"], i["cashback_amount"], i["cashback_status"]) for i in body["data"]] == [
        ("pending", "40.00", "2.00", "pending"),
        ("confirmed", "60.00", "3.00", "available"),
        ("reversed", "20.00", "0.00", "reversed"),
    ]


def test_my_purchases_status_filter_and_bad_status(user_client, user, merchant):
    confirmed = confirm(ingest(user=user, merchant=merchant))
    ingest(user=user, merchant=merchant)
    assert ids_of(user_client.get(MY_PURCHASES, {"status": "confirmed"})) == [str(confirmed.pk)]
    error = error_of(user_client.get(MY_PURCHASES, {"status": "CONFIRMED"}), 422, "INVALID_PURCHASE_STATUS")
    assert error["details"] == {"status": "CONFIRMED"}
    assert violation_fields(user_client.get(MY_PURCHASES, {"status": "nope", "offset": "x"})) == {"offset"}


def test_my_purchases_is_401_for_anonymous(api_client):
    error_of(api_client.get(MY_PURCHASES), 401, "INVALID_TOKEN")


@pytest.mark.parametrize("path_id", ["me", "own", "own_upper"])
def test_purchases_alias_with_me_or_own_id_lists_the_callers_purchases(user_client, user, other_user, merchant,
                                                                       path_id):
    mine = ingest(user=user, merchant=merchant)
    ingest(user=other_user, merchant=merchant)
    segment = {"me": "me", "own": str(user.pk), "own_upper": str(user.pk).upper()}[path_id]
    response = user_client.get(f"/api/v1/users/{segment}/purchases")
    assert ids_of(response) == [str(mine.pk)]
    assert set(response.json()["data"][0]) == USER_ITEM_KEYS


@pytest.mark.parametrize("path_id", ["other", "unknown", "malformed"])
def test_purchases_alias_with_another_id_is_403_for_users_before_existence(user_client, other_user, path_id):
    # decided before any existence or format check.
    segment = {"other": str(other_user.pk), "unknown": str(uuid.uuid4()), "malformed": "abc"}[path_id]
    error = error_of(user_client.get(f"/api/v1/users/{segment}/purchases"), 403, "FORBIDDEN")
    assert error["details"] == {"reason": "You can only access your own resources."}


def test_purchases_alias_lets_an_admin_read_another_users_list(admin_client, user, merchant):
    theirs = ingest(user=user, merchant=merchant)
    response = admin_client.get(f"/api/v1/users/{user.pk}/purchases", {"status": "pending"})
    assert ids_of(response) == [str(theirs.pk)]
    assert ids_of(admin_client.get(MY_PURCHASES)) == []  # `me` is still the admin


@pytest.mark.parametrize("segment", [str(uuid.uuid4()), "abc", "12345"])
def test_purchases_alias_for_an_admin_with_unknown_or_malformed_id_is_404(admin_client, segment):
    error = error_of(admin_client.get(f"/api/v1/users/{segment}/purchases"), 404, "NOT_FOUND")
    assert error["details"]["resource_type"] == "user"


def test_purchases_alias_check_order_is_403_then_400_then_404_then_422(user_client, admin_client, other_user):
    # §0.6 / R-22: ownership 403 → query validation 400 → existence 404 → INVALID_PURCHASE_STATUS 422.
    unknown = f"/api/v1/users/{uuid.uuid4()}/purchases"
    error_of(user_client.get(f"/api/v1/users/{other_user.pk}/purchases", {"limit": "0"}), 403, "FORBIDDEN")
    assert violation_fields(admin_client.get(unknown, {"limit": "0", "status": "bogus"})) == {"limit"}
    assert violation_fields(admin_client.get("/api/v1/users/abc/purchases", {"offset": "-1"})) == {"offset"}
    error_of(admin_client.get(unknown, {"status": "bogus"}), 404, "NOT_FOUND")
    error_of(admin_client.get(f"/api/v1/users/{other_user.pk}/purchases", {"status": "bogus"}), 422,
             "INVALID_PURCHASE_STATUS")


def test_admin_list_role_403_comes_before_query_validation(user_client):
    error_of(user_client.get(PURCHASES, {"limit": "0", "status": "bogus"}), 403, "FORBIDDEN")


# --- GET /api/v1/purchases/{id} -------------------------------------------------------------------


def test_owner_reads_purchase_details(user_client, user, merchant, offer):
    purchase = ingest(user=user, merchant=merchant, amount="50.00", currency="eur")
    response = user_client.get(purchase_url(purchase))
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == DETAILS_KEYS
    purchase.refresh_from_db()
    assert body == {
        "id": str(purchase.pk), "merchant_name": merchant.name, "amount": "50.00", "status": "pending",
        "cashback_amount": "2.50", "cashback_status": "pending",
        "created_at": purchase.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "external_id": purchase.external_id, "user_id": str(user.pk), "merchant_id": str(merchant.pk),
        "offer_id": str(offer.pk), "currency": "EUR",
        "updated_at": purchase.updated_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


def test_admin_reads_any_purchase(admin_client, user, merchant):
    purchase = ingest(user=user, merchant=merchant)
    response = admin_client.get(purchase_url(purchase) + "/")
    assert response.status_code == 200
    assert response.json()["user_id"] == str(user.pk)


def test_another_users_purchase_is_404_exactly_like_an_unknown_id(user_client, other_user, merchant):
    # api.md §7 Decision (OWASP API1): a non-admin cannot tell the two apart.
    theirs = ingest(user=other_user, merchant=merchant)
    unknown = uuid.uuid4()
    hidden = error_of(user_client.get(purchase_url(theirs)), 404, "NOT_FOUND")
    missing = error_of(user_client.get(purchase_url(unknown)), 404, "NOT_FOUND")
    assert hidden["details"] == {"resource_type": "purchase", "resource_id": str(theirs.pk)}
    assert missing["details"] == {"resource_type": "purchase", "resource_id": str(unknown)}
    assert str(theirs.pk) in hidden["message"]
    assert hidden["message"].replace(str(theirs.pk), "ID") == missing["message"].replace(str(unknown), "ID")
    assert str(other_user.pk) not in json.dumps(hidden)


def test_malformed_purchase_id_is_404(user_client, admin_client):
    for client in (user_client, admin_client):
        error = error_of(client.get(purchase_url("not-a-uuid")), 404, "NOT_FOUND")
        assert error["details"]["resource_type"] == "purchase"


def test_purchase_details_are_401_for_anonymous(api_client, user, merchant):
    error_of(api_client.get(purchase_url(ingest(user=user, merchant=merchant))), 401, "INVALID_TOKEN")


# --- POST /api/v1/purchases/{id}/confirmation (and /confirm) --------------------------------------

CONFIRM_ROUTES = ["/confirmation", "/confirm", "/confirmation/", "/confirm/"]


@pytest.mark.parametrize("suffix", CONFIRM_ROUTES)
def test_confirmation_moves_cashback_from_pending_to_available(admin_client, admin_user, user, merchant, suffix):
    purchase = ingest(user=user, merchant=merchant)

    response = admin_client.post(purchase_url(purchase, suffix))

    assert response.status_code == 200, response.content
    assert response.json() == {"id": str(purchase.pk), "status": "confirmed", "cashback_amount": "5.00"}
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.CONFIRMED and purchase.confirmed_at is not None
    assert purchase.cashback_amount == D("5.00")  # never recomputed
    assert CashbackTransaction.objects.get(purchase=purchase).status == "available"
    assert balances(user) == zero_balances(available="5.00")
    assert ledger_of(purchase) == [
        ("pending", D("5.00"), "cashback_earned"),
        ("pending", D("-5.00"), "cashback_confirmed"),
        ("available", D("5.00"), "cashback_confirmed"),
    ]
    audit = AuditLog.objects.get(action=AuditAction.PURCHASE_CONFIRMED)
    assert (audit.resource_id, audit.actor_type, audit.actor_id) == (str(purchase.pk), "admin", admin_user.pk)
    assert_wallets_reconcile()


def test_confirmation_still_works_after_merchant_and_offer_are_deactivated(admin_client, user, merchant, offer):
    # recorded purchases keep flowing; the cashback is the one priced at ingestion.
    purchase = ingest(user=user, merchant=merchant)
    offer_services.set_offer_active(offer_id=offer.pk, active=False, actor=Actor.system())
    Merchant.objects.filter(pk=merchant.pk).update(active=False)
    response = admin_client.post(purchase_url(purchase, "/confirmation"))
    assert response.status_code == 200
    assert response.json()["cashback_amount"] == "5.00"
    assert balances(user) == zero_balances(available="5.00")
    assert_wallets_reconcile()


@pytest.mark.parametrize("current", ["confirmed", "reversed", "rejected"])
@pytest.mark.parametrize("suffix", ["/confirmation", "/confirm"])
def test_confirming_a_non_pending_purchase_is_400_and_changes_nothing(admin_client, user, merchant, current, suffix):
    purchase = ingest(user=user, merchant=merchant)
    {"confirmed": confirm, "reversed": reverse, "rejected": reject}[current](purchase)
    before = written_state()

    response = admin_client.post(purchase_url(purchase, suffix))

    error = error_of(response, 400, "PURCHASE_NOT_PENDING")
    assert error["details"] == {"violations": [
        {"purchase_id": str(purchase.pk), "current_status": current, "required_status": "pending"}]}
    assert f"'{current}'" in error["message"] and str(purchase.pk) in error["message"]
    assert written_state() == before  # refused API calls write no audit row either
    assert_wallets_reconcile()


@pytest.mark.parametrize("segment", [str(uuid.uuid4()), "not-a-uuid"])
def test_confirming_an_unknown_purchase_is_404(admin_client, segment):
    error = error_of(admin_client.post(purchase_url(segment, "/confirmation")), 404, "NOT_FOUND")
    assert error["details"] == {"resource_type": "purchase", "resource_id": segment}
    assert segment in error["message"]


@pytest.mark.parametrize("suffix", ["/confirmation", "/confirm"])
def test_confirmation_is_403_for_users_even_on_their_own_purchase_and_401_anonymous(
    user_client, api_client, user, merchant, suffix
):
    purchase = ingest(user=user, merchant=merchant)
    before = written_state()
    error = error_of(user_client.post(purchase_url(purchase, suffix)), 403, "FORBIDDEN")
    assert error["details"] == {"required_role": "admin", "current_role": "user"}
    error_of(user_client.post(purchase_url(uuid.uuid4(), suffix)), 403, "FORBIDDEN")  # role before existence
    error_of(api_client.post(purchase_url(purchase, suffix)), 401, "INVALID_TOKEN")
    assert written_state() == before


# --- PATCH /api/v1/purchases/{id}/reverse (and POST alias) ------------------------------------------

REVERSE_CALLS = [("patch", "/reverse"), ("post", "/reverse"), ("patch", "/reverse/"), ("post", "/reverse/")]


def call(client, method: str, url: str, body=None):
    return getattr(client, method)(url, body, format="json") if body is not None else getattr(client, method)(url)


@pytest.mark.parametrize("method, suffix", REVERSE_CALLS)
def test_reversing_a_pending_purchase_removes_its_pending_cashback(admin_client, admin_user, user, merchant,
                                                                   method, suffix):
    purchase = ingest(user=user, merchant=merchant)

    response = call(admin_client, method, purchase_url(purchase, suffix), {"reason": "Order cancelled."})

    assert response.status_code == 200, response.content
    assert response.json() == {"id": str(purchase.pk), "status": "reversed", "cashback_amount": "0.00"}
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.REVERSED and purchase.reversed_at is not None
    assert purchase.status_reason == "Order cancelled."
    assert purchase.cashback_amount == D("0.00")
    cashback = CashbackTransaction.objects.get(purchase=purchase)
    assert (cashback.status, cashback.amount) == ("reversed", D("5.00"))  # amount never changes
    assert balances(user) == zero_balances()
    assert ledger_of(purchase)[1:] == [("pending", D("-5.00"), "cashback_reversed")]
    audit = AuditLog.objects.get(action=AuditAction.PURCHASE_REVERSED)
    assert (audit.resource_id, audit.actor_type, audit.actor_id) == (str(purchase.pk), "admin", admin_user.pk)
    assert audit.details["reason"] == "Order cancelled."
    assert_wallets_reconcile()


@pytest.mark.parametrize("method, suffix", REVERSE_CALLS[:2])
def test_reversing_a_confirmed_purchase_takes_its_cashback_from_available(admin_client, user, merchant,
                                                                          method, suffix):
    keep = confirm(ingest(user=user, merchant=merchant, amount="60.00"))  # 3.00 stays available
    purchase = confirm(ingest(user=user, merchant=merchant))

    response = call(admin_client, method, purchase_url(purchase, suffix))  # no body: reason optional

    assert response.status_code == 200, response.content
    assert response.json() == {"id": str(purchase.pk), "status": "reversed", "cashback_amount": "0.00"}
    assert balances(user) == zero_balances(available="3.00")
    assert ledger_of(purchase)[3:] == [("available", D("-5.00"), "cashback_reversed")]
    assert CashbackTransaction.objects.get(purchase=purchase).status == "reversed"
    assert CashbackTransaction.objects.get(purchase=keep).status == "available"
    assert Purchase.objects.get(pk=purchase.pk).status_reason is None
    assert_wallets_reconcile()


def test_reversing_a_pending_purchase_leaves_available_untouched(admin_client, user, merchant):
    confirm(ingest(user=user, merchant=merchant, amount="60.00"))
    purchase = ingest(user=user, merchant=merchant)
    response = admin_client.patch(purchase_url(purchase, "/reverse"), {}, format="json")
    assert response.status_code == 200
    assert balances(user) == zero_balances(available="3.00")
    assert_wallets_reconcile()


@pytest.mark.parametrize("method, suffix", REVERSE_CALLS[:2])
def test_reversing_twice_is_400_purchase_already_reversed(admin_client, user, merchant, method, suffix):
    purchase = reverse(ingest(user=user, merchant=merchant))
    before = written_state()
    error = error_of(call(admin_client, method, purchase_url(purchase, suffix)), 400, "PURCHASE_ALREADY_REVERSED")
    assert error["details"] == {"violations": [{"purchase_id": str(purchase.pk), "current_status": "reversed",
                                                "reversible_from_statuses": ["pending", "confirmed"]}]}
    assert written_state() == before
    assert_wallets_reconcile()


def test_reversing_a_rejected_purchase_is_400_not_reversible_and_takes_nothing_twice(admin_client, user, merchant):
    confirm(ingest(user=user, merchant=merchant, amount="60.00"))
    purchase = reject(ingest(user=user, merchant=merchant))
    assert ledger_of(purchase)[1:] == [("pending", D("-5.00"), "cashback_rejected")]
    before = written_state()

    error = error_of(admin_client.patch(purchase_url(purchase, "/reverse")), 400, "PURCHASE_NOT_REVERSIBLE")

    assert error["details"] == {"violations": [{"purchase_id": str(purchase.pk), "current_status": "rejected",
                                                "reversible_from_statuses": ["pending", "confirmed"]}]}
    assert written_state() == before  # v1 removed the cashback a second time
    assert balances(user) == zero_balances(available="3.00")
    assert_wallets_reconcile()


@pytest.mark.parametrize("body", [{"reason": "x" * 501}, {"reason": 5}, {"reason": None}])
def test_bad_reverse_reason_is_400_and_nothing_changes(admin_client, user, merchant, body):
    purchase = ingest(user=user, merchant=merchant)
    before = written_state()
    assert violation_fields(admin_client.patch(purchase_url(purchase, "/reverse"), body, format="json")) == {"reason"}
    assert written_state() == before
    # §0.6: validation (400) answers before existence (404).
    unknown = admin_client.patch(purchase_url(uuid.uuid4(), "/reverse"), body, format="json")
    assert violation_fields(unknown) == {"reason"}


def test_reverse_reason_of_500_characters_is_accepted(admin_client, user, merchant):
    purchase = ingest(user=user, merchant=merchant)
    response = admin_client.patch(purchase_url(purchase, "/reverse"), {"reason": "r" * 500}, format="json")
    assert response.status_code == 200
    assert Purchase.objects.get(pk=purchase.pk).status_reason == "r" * 500


@pytest.mark.parametrize("segment", [str(uuid.uuid4()), "nope"])
def test_reversing_an_unknown_purchase_is_404(admin_client, segment):
    error = error_of(admin_client.patch(purchase_url(segment, "/reverse")), 404, "NOT_FOUND")
    assert error["details"] == {"resource_type": "purchase", "resource_id": segment}


@pytest.mark.parametrize("method", ["patch", "post"])
def test_reverse_is_403_for_users_and_401_for_anonymous(user_client, api_client, user, merchant, method):
    purchase = ingest(user=user, merchant=merchant)
    before = written_state()
    error_of(call(user_client, method, purchase_url(purchase, "/reverse")), 403, "FORBIDDEN")
    error_of(call(api_client, method, purchase_url(purchase, "/reverse")), 401, "INVALID_TOKEN")
    assert written_state() == before


# --- Clawback (R-115, R-116) ------------------------------------------------------------------------


def test_reversal_after_money_left_available_records_the_shortfall_as_clawback_then_settles_it_first(
    admin_client, user, merchant
):
    purchase_a = confirm(ingest(user=user, merchant=merchant))  # available 5.00
    simulate_paid_payout(user=user, amount="3.00")  # available 2.00, paid 3.00
    assert balances(user) == zero_balances(available="2.00", paid="3.00")
    assert_wallets_reconcile()

    response = admin_client.patch(purchase_url(purchase_a, "/reverse"), {"reason": "Refunded."}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["cashback_amount"] == "0.00"
    # take what available has, the rest becomes clawback; never negative.
    assert balances(user) == zero_balances(paid="3.00", clawback="3.00")
    assert ledger_of(purchase_a)[3:] == [
        ("available", D("-2.00"), "cashback_reversed"),
        ("clawback", D("3.00"), "clawback_recorded"),
    ]
    assert_wallets_reconcile()

    # the next confirmation pays the clawback down before available grows.
    purchase_b = ingest(user=user, merchant=merchant)
    response = admin_client.post(purchase_url(purchase_b, "/confirmation"))
    assert response.status_code == 200
    assert response.json()["cashback_amount"] == "5.00"
    assert ledger_of(purchase_b) == [
        ("pending", D("5.00"), "cashback_earned"),
        ("pending", D("-5.00"), "cashback_confirmed"),
        ("clawback", D("-3.00"), "clawback_settled"),
        ("available", D("2.00"), "cashback_confirmed"),
    ]
    assert balances(user) == zero_balances(available="2.00", paid="3.00")
    assert_wallets_reconcile()


def test_confirmation_smaller_than_the_clawback_only_pays_it_down(user, merchant):
    confirm_a = confirm(ingest(user=user, merchant=merchant))  # 5.00
    simulate_paid_payout(user=user, amount="5.00")
    reverse(confirm_a)
    assert balances(user) == zero_balances(paid="5.00", clawback="5.00")
    assert ledger_of(confirm_a)[3:] == [("clawback", D("5.00"), "clawback_recorded")]  # no 0.00 available entry

    small = confirm(ingest(user=user, merchant=merchant, amount="40.00"))  # 2.00

    assert balances(user) == zero_balances(paid="5.00", clawback="3.00")  # clawback > 0 ⇒ available = 0
    assert ledger_of(small)[1:] == [
        ("pending", D("-2.00"), "cashback_confirmed"),
        ("clawback", D("-2.00"), "clawback_settled"),
    ]
    assert_wallets_reconcile()


def test_a_second_reversal_adds_to_the_clawback(user, merchant):
    a = confirm(ingest(user=user, merchant=merchant))
    b = confirm(ingest(user=user, merchant=merchant, amount="60.00"))  # available 8.00
    simulate_paid_payout(user=user, amount="8.00")
    reverse(a)
    reverse(b)
    assert balances(user) == zero_balances(paid="8.00", clawback="8.00")
    assert_wallets_reconcile()


def test_reversal_while_the_cashback_is_inside_a_requested_payout_becomes_clawback_settled_by_its_return(
    admin_client, user, merchant
):
    # money in a requested payout sits in no balance; R-115 then R-116 when the payout comes back.
    from payouts import services as payout_services

    purchase = confirm(ingest(user=user, merchant=merchant, amount="200.00"))  # available 10.00
    payout = payout_services.request_payout(
        user=user, amount=D("10.00"), method="bank_transfer", details={}, idempotency_key=None,
        actor=Actor.of_user(user), render=lambda payout: "{}",
    ).payout
    assert balances(user) == zero_balances()
    assert_wallets_reconcile()  # C6 counts the in-flight 10.00

    response = admin_client.patch(purchase_url(purchase, "/reverse"), format="json")
    assert response.status_code == 200, response.content
    assert balances(user) == zero_balances(clawback="10.00")
    assert ledger_of(purchase)[3:] == [("clawback", D("10.00"), "clawback_recorded")]
    assert_wallets_reconcile()

    payout_services.change_payout_status(payout_id=payout.pk, target="rejected", actor=Actor.system(),
                                         reason="Reversed cashback.")
    assert balances(user) == zero_balances()  # the returned 10.00 paid the clawback, nothing reached available
    assert_wallets_reconcile()


# --- Constant query counts ---------------------------------------------------------------------------


def query_count(client, url: str, expected_rows: int) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, {"limit": "100"})
    assert response.status_code == 200, response.content
    assert len(response.json()["data"]) == expected_rows
    return len(captured.captured_queries)


def add_mixed_purchases(user, merchant, count: int) -> None:
    for index in range(count):
        purchase = ingest(user=user, merchant=merchant, amount="10.00")
        if index % 3 == 1:
            confirm(purchase)
        elif index % 3 == 2:
            reverse(purchase)


@pytest.mark.parametrize("url", [PURCHASES, MY_PURCHASES, MY_TRANSACTIONS])
def test_list_endpoints_run_the_same_number_of_queries_for_1_and_50_rows(
    url, user, admin_user, merchant, django_assert_num_queries
):
    client = bearer_client(admin_user if url == PURCHASES else user)
    add_mixed_purchases(user, merchant, 1)
    one_row = query_count(client, url, 1)

    add_mixed_purchases(user, merchant, 49)
    with django_assert_num_queries(one_row):
        response = client.get(url, {"limit": "100"})
    assert len(response.json()["data"]) == 50


# --- ingestion throttle ----------------------------------------------------------------------


def test_ingestion_over_the_per_user_rate_is_429_and_writes_nothing(settings, user, other_user, merchant):
    settings.THROTTLING_ENABLED = True
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "ingest_user": "2/min"}
    client = bearer_client(user)
    for _ in range(2):
        assert client.post(PURCHASES, body_for(user, merchant), format="json").status_code == 201
    before = written_state()

    response = client.post(PURCHASES, body_for(user, merchant), format="json")

    error = error_of(response, 429, "RATE_LIMITED")
    assert set(error["details"]) == {"retry_after_seconds"} and error["details"]["retry_after_seconds"] >= 1
    assert response["Retry-After"] == str(error["details"]["retry_after_seconds"])
    assert written_state() == before
    # Per user: another caller still gets through.
    assert bearer_client(other_user).post(PURCHASES, body_for(other_user, merchant), format="json").status_code == 201


# --- §0.6: methods a route does not have ------------------------------------------------------------


@pytest.mark.parametrize("method, suffix, allowed", [
    ("delete", "", ["GET", "POST"]),
    ("put", "/{id}", ["GET"]),
    ("delete", "/{id}", ["GET"]),
    ("get", "/{id}/confirmation", ["POST"]),
    ("get", "/{id}/confirm", ["POST"]),
    ("put", "/{id}/reverse", ["PATCH", "POST"]),
])
def test_a_method_the_route_lacks_is_405_for_any_role_and_401_without_token(
    user_client, admin_client, api_client, user, merchant, method, suffix, allowed
):
    purchase = ingest(user=user, merchant=merchant)
    url = PURCHASES + suffix.replace("{id}", str(purchase.pk))
    before = written_state()
    for client in (user_client, admin_client):
        error = error_of(getattr(client, method)(url), 405, "METHOD_NOT_ALLOWED")
        assert error["details"] == {"allowed": allowed}
    error_of(getattr(api_client, method)(url), 401, "INVALID_TOKEN")
    assert written_state() == before


def test_a_missing_wallet_is_created_by_ingestion(user_client, user, merchant):
    # robustness — a user without a wallet row gets one (zero balances) before it is locked.
    Wallet.objects.filter(user=user).delete()
    response = user_client.post(PURCHASES, body_for(user, merchant), format="json")
    assert response.status_code == 201, response.content
    assert balances(user) == zero_balances(pending="5.00")
    assert_wallets_reconcile()


def test_reconciliation_helper_fails_when_a_balance_no_longer_matches_its_ledger(user, merchant):
    # The "0 mismatches" assertions above can fail: a balance moved without a ledger entry is caught (C1/C5).
    ingest(user=user, merchant=merchant)
    assert_wallets_reconcile()
    Wallet.objects.filter(user=user).update(pending_balance=D("6.00"))
    with pytest.raises(AssertionError, match=rf"MISMATCH user={user.pk} check=C1 balance=pending"):
        assert_wallets_reconcile()
