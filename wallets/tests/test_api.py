"""Wallets over HTTP (api.md §8, aliases §0.7 / R-22): APIClient + the real URLconf, asserting status,
body and that reading never changes anything."""

import datetime as dt
import re
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import TEST_PASSWORD, UserFactory
from conftest import bearer_client
from wallets.models import CashbackTransaction, LedgerEntry, Wallet
from wallets.tests.helpers import confirm, ingest, live_merchant, paid_out, reject, reverse

pytestmark = pytest.mark.django_db

MY_WALLET = "/api/v1/users/me/wallet"
MY_TRANSACTIONS = "/api/v1/users/me/wallet/transactions"
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
ZERO_WALLET = {"pending_balance": "0.00", "available_balance": "0.00", "paid_balance": "0.00",
               "clawback_balance": "0.00"}
TRANSACTION_KEYS = {"id", "type", "amount", "status", "related_purchase_id", "created_at"}


def wallet_url(user_id) -> str:
    return f"/api/v1/users/{user_id}/wallet"


def transactions_url(user_id) -> str:
    return f"/api/v1/users/{user_id}/wallet/transactions"


@pytest.fixture
def merchant():
    return live_merchant()  # 10 %


def _error(response) -> dict:
    return response.json()["error"]


# --- GET /users/me/wallet ----------------------------------------------------------------------


def test_registered_user_sees_an_all_zero_wallet(api_client):
    # registration through the API creates the wallet; all four balances print as "0.00" (§0.1).
    registered = api_client.post("/api/v1/users", {"email": "fresh@example.com", "password": TEST_PASSWORD},
                                 format="json")
    assert registered.status_code == 201
    user_id = registered.json()["id"]
    assert Wallet.objects.filter(pk=user_id).exists()
    from accounts.models import User

    client = bearer_client(User.objects.get(pk=user_id))

    for path in (MY_WALLET, MY_WALLET + "/"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.json() == ZERO_WALLET


def test_wallet_shows_the_exact_balances_after_activity(user_client, merchant):
    user = user_client.account
    confirm(ingest(user, merchant, "100.00"))  # available 10.00
    ingest(user, merchant, "12.34")  # pending 1.23 (1.234 → 1.23)
    paid_out(user, "4.50")  # available 5.50, paid 4.50

    response = user_client.get(MY_WALLET)

    assert response.status_code == 200
    assert response.json() == {"pending_balance": "1.23", "available_balance": "5.50", "paid_balance": "4.50",
                               "clawback_balance": "0.00"}


def test_wallet_shows_clawback_after_a_reversal_the_available_balance_could_not_cover(user_client, merchant):
    user = user_client.account
    purchase = ingest(user, merchant, "100.00")
    confirm(purchase)
    paid_out(user, "7.00")
    reverse(purchase)  # available −3.00, clawback +7.00

    response = user_client.get(MY_WALLET)

    assert response.json() == {"pending_balance": "0.00", "available_balance": "0.00", "paid_balance": "7.00",
                               "clawback_balance": "7.00"}


def test_user_without_a_wallet_row_sees_zeros_and_reading_creates_nothing(user_client):
    # R-119 robustness: a missing row reads as all 0.00; a GET writes nothing.
    Wallet.objects.filter(pk=user_client.account.pk).delete()

    response = user_client.get(MY_WALLET)

    assert (response.status_code, response.json()) == (200, ZERO_WALLET)
    assert not Wallet.objects.filter(pk=user_client.account.pk).exists()


def test_wallet_shows_only_the_callers_own_balances(user_client, merchant):
    confirm(ingest(UserFactory(), merchant, "500.00"))

    assert user_client.get(MY_WALLET).json() == ZERO_WALLET


# --- GET /users/me/wallet/transactions ---------------------------------------------------------


def test_transactions_list_one_item_per_cashback_transaction_with_the_v1_shape(user_client, merchant):
    user = user_client.account
    confirmed = ingest(user, merchant, "100.00")
    confirm(confirmed)
    pending = ingest(user, merchant, "20.00")
    reversed_one = ingest(user, merchant, "30.00")
    reverse(reversed_one)
    rejected = ingest(user, merchant, "40.00")
    reject(rejected)
    zero = ingest(user, merchant, "0.04")  # 0.00 cashback: listed too
    ingest(UserFactory(), merchant, "60.00")  # someone else's

    response = user_client.get(MY_TRANSACTIONS)

    assert response.status_code == 200
    body = response.json()
    assert body["pagination"] == {"offset": 0, "limit": 10, "total": 5}
    items = body["data"]
    assert all(set(item) == TRANSACTION_KEYS for item in items)
    assert all(item["type"] == "cashback_credit" for item in items)
    assert all(DATETIME.match(item["created_at"]) for item in items)
    # Newest first; the amount is the original cashback, also for reversed ones.
    assert [(item["related_purchase_id"], item["amount"], item["status"]) for item in items] == [
        (str(zero.pk), "0.00", "pending"),
        (str(rejected.pk), "4.00", "reversed"),
        (str(reversed_one.pk), "3.00", "reversed"),
        (str(pending.pk), "2.00", "pending"),
        (str(confirmed.pk), "10.00", "available"),
    ]
    by_purchase = {c.purchase_id: c for c in CashbackTransaction.objects.filter(user=user)}
    for item in items:
        cashback = by_purchase[uuid.UUID(item["related_purchase_id"])]
        assert item["id"] == str(cashback.pk)
        assert item["created_at"] == cashback.created_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_transactions_are_sorted_created_at_desc_then_id_asc(user_client, merchant):
    user = user_client.account
    purchases = [ingest(user, merchant, f"{10 * (i + 1)}.00") for i in range(4)]
    cashbacks = [CashbackTransaction.objects.get(purchase=p) for p in purchases]
    moment = timezone.now()
    # Two share one timestamp (ties by id ascending, §0.5); one is older, one newer.
    CashbackTransaction.objects.filter(pk__in=[cashbacks[0].pk, cashbacks[3].pk]).update(created_at=moment)
    CashbackTransaction.objects.filter(pk=cashbacks[1].pk).update(created_at=moment + dt.timedelta(seconds=1))
    CashbackTransaction.objects.filter(pk=cashbacks[2].pk).update(created_at=moment - dt.timedelta(days=40))
    tied = sorted([cashbacks[0], cashbacks[3]], key=lambda c: c.pk)

    ids = [item["id"] for item in user_client.get(MY_TRANSACTIONS).json()["data"]]

    assert ids == [str(c.pk) for c in [cashbacks[1], *tied, cashbacks[2]]]


def test_transactions_paginate_with_offset_and_limit(user_client, merchant):
    user = user_client.account
    for i in range(5):
        ingest(user, merchant, f"{i + 1}0.00")
    everything = [item["id"] for item in user_client.get(MY_TRANSACTIONS).json()["data"]]

    page = user_client.get(MY_TRANSACTIONS, {"offset": 1, "limit": 2}).json()
    past_the_end = user_client.get(MY_TRANSACTIONS, {"offset": 7, "limit": 100}).json()

    assert page["pagination"] == {"offset": 1, "limit": 2, "total": 5}
    assert [item["id"] for item in page["data"]] == everything[1:3]
    assert past_the_end == {"data": [], "pagination": {"offset": 7, "limit": 100, "total": 5}}


def test_new_user_has_an_empty_transaction_list(user_client):
    assert user_client.get(MY_TRANSACTIONS + "/").json() == {
        "data": [], "pagination": {"offset": 0, "limit": 10, "total": 0}}


@pytest.mark.parametrize("query, field", [
    ({"limit": "0"}, "limit"),
    ({"limit": "101"}, "limit"),
    ({"limit": "abc"}, "limit"),
    ({"limit": "-1"}, "limit"),
    ({"limit": "1.5"}, "limit"),
    ({"offset": "-1"}, "offset"),
    ({"offset": "x"}, "offset"),
    ({"offset": "2147483648"}, "offset"),
])
def test_bad_pagination_is_400_validation_error(user_client, query, field):
    response = user_client.get(MY_TRANSACTIONS, query)

    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "VALIDATION_ERROR"
    assert [v["field"] for v in error["details"]["violations"]] == [field]


def test_bad_pagination_on_the_alias_is_400_too(user_client):
    response = user_client.get(transactions_url(user_client.account.pk), {"limit": "0"})

    assert response.status_code == 400
    assert _error(response)["code"] == "VALIDATION_ERROR"


def test_unknown_query_parameters_are_ignored(user_client):
    response = user_client.get(MY_TRANSACTIONS, {"page": "1", "page_size": "10"})

    assert response.status_code == 200


def test_transaction_list_runs_a_constant_number_of_queries(user_client, merchant):
    user = user_client.account
    ingest(user, merchant, "10.00")
    with CaptureQueriesContext(connection) as one:
        assert len(user_client.get(MY_TRANSACTIONS, {"limit": 100}).json()["data"]) == 1
    for i in range(49):
        ingest(user, merchant, f"{i + 11}.00")
    with CaptureQueriesContext(connection) as fifty:
        assert len(user_client.get(MY_TRANSACTIONS, {"limit": 100}).json()["data"]) == 50

    assert len(fifty) == len(one)


# --- aliases /users/{user_id}/wallet[/transactions] (§0.7, R-22) --------------------------------


@pytest.fixture
def activity(user_client, merchant):
    """The caller: 10.00 available; another user: 5.00 pending."""
    confirm(ingest(user_client.account, merchant, "100.00"))
    other = UserFactory()
    ingest(other, merchant, "50.00")
    return other


def test_alias_with_own_id_or_me_is_the_canonical_route(user_client, activity):
    own = str(user_client.account.pk)
    canonical_wallet = user_client.get(MY_WALLET).json()
    canonical_transactions = user_client.get(MY_TRANSACTIONS).json()
    assert canonical_wallet["available_balance"] == "10.00"

    for user_id in (own, own.upper(), "me"):
        for suffix in ("", "/"):
            assert user_client.get(wallet_url(user_id) + suffix).json() == canonical_wallet
            assert user_client.get(transactions_url(user_id) + suffix).json() == canonical_transactions


@pytest.mark.parametrize("make_url", [wallet_url, transactions_url])
@pytest.mark.parametrize("target", ["other", "unknown", "malformed"])
def test_alias_for_another_id_is_403_for_a_user_before_any_existence_check(user_client, activity, make_url, target):
    user_id = {"other": str(activity.pk), "unknown": str(uuid.uuid4()), "malformed": "not-a-uuid"}[target]

    response = user_client.get(make_url(user_id))

    assert response.status_code == 403
    error = _error(response)
    assert error["code"] == "FORBIDDEN"
    assert error["details"] == {"reason": "You can only access your own resources."}


def test_admin_reads_another_users_wallet_and_transactions(admin_client, activity):
    wallet = admin_client.get(wallet_url(activity.pk))
    transactions = admin_client.get(transactions_url(activity.pk))

    assert wallet.status_code == 200
    assert wallet.json() == {**ZERO_WALLET, "pending_balance": "5.00"}
    assert transactions.status_code == 200
    body = transactions.json()
    assert body["pagination"]["total"] == 1
    assert body["data"][0]["related_purchase_id"] == str(activity.purchases.get().pk)
    assert body["data"][0]["amount"] == "5.00"


def test_admin_me_alias_is_the_admins_own_wallet(admin_client, activity):
    assert admin_client.get(wallet_url("me")).json() == ZERO_WALLET
    assert admin_client.get(MY_WALLET).json() == ZERO_WALLET


@pytest.mark.parametrize("make_url", [wallet_url, transactions_url])
@pytest.mark.parametrize("user_id", [str(uuid.UUID(int=7)), "not-a-uuid", "12345"])
def test_admin_alias_for_unknown_or_malformed_user_is_404(admin_client, make_url, user_id):
    response = admin_client.get(make_url(user_id))

    assert response.status_code == 404
    error = _error(response)
    assert error["code"] == "NOT_FOUND"
    assert error["details"]["resource_type"] == "user"


@pytest.mark.parametrize("user_id", [str(uuid.UUID(int=7)), "not-a-uuid"])
def test_admin_alias_checks_the_query_before_the_users_existence(admin_client, user_id):
    # §0.6: validation 400 answers before existence 404 (a malformed path id counts as "does not exist").
    response = admin_client.get(transactions_url(user_id), {"limit": "0"})

    assert response.status_code == 400
    assert _error(response)["code"] == "VALIDATION_ERROR"


def test_user_alias_for_another_id_is_403_even_with_a_bad_query(user_client, activity):
    # the 403 is decided before any format check.
    response = user_client.get(transactions_url(activity.pk), {"limit": "0"})

    assert response.status_code == 403


# --- AUTH-401 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [MY_WALLET, MY_TRANSACTIONS, wallet_url("me"), transactions_url(uuid.UUID(int=1))])
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic abc"])
def test_no_or_bad_token_is_401_invalid_token(api_client, path, authorization):
    if authorization:
        api_client.credentials(HTTP_AUTHORIZATION=authorization)

    response = api_client.get(path)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert _error(response) == {"code": "INVALID_TOKEN", "message": _error(response)["message"], "details": {}}


def test_inactive_user_is_401_user_inactive(merchant):
    user = UserFactory(is_active=False)
    client = bearer_client(user)

    response = client.get(MY_WALLET)

    assert response.status_code == 401
    assert _error(response)["code"] == "USER_INACTIVE"
    assert _error(response)["details"] == {"user_id": str(user.pk)}


@pytest.mark.parametrize("path", [MY_WALLET, MY_TRANSACTIONS, wallet_url("me"), transactions_url("me")])
def test_other_methods_are_405_with_a_token_and_401_without(user_client, api_client, path):
    # §0.6: for a method the route does not have, 401 without a valid token, 405 with one.
    for method in ("post", "put", "patch", "delete"):
        response = getattr(user_client, method)(path, {}, format="json")
        assert response.status_code == 405, (method, path)
        assert _error(response)["code"] == "METHOD_NOT_ALLOWED"
        assert _error(response)["details"] == {"allowed": ["GET"]}
        assert getattr(api_client, method)(path, {}, format="json").status_code == 401
    assert user_client.head(path).status_code == 200


def test_reading_the_wallet_writes_nothing(user_client, merchant):
    confirm(ingest(user_client.account, merchant, "100.00"))
    entries = LedgerEntry.objects.count()
    wallet = Wallet.objects.get(pk=user_client.account.pk)

    user_client.get(MY_WALLET)
    user_client.get(MY_TRANSACTIONS)

    assert LedgerEntry.objects.count() == entries
    assert Wallet.objects.get(pk=user_client.account.pk).updated_at == wallet.updated_at
