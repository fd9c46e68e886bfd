"""Issue 7: the SQL statements each endpoint sends, pinned, so a change that adds a round trip fails CI.

One row of CASES per endpoint of api.md §12 (and per compatibility alias of §0.7): the caller's role,
a small realistic data set built with the apps' own factories and services, the expected status and
PIN, the exact number of statements measured when the pin was set, with what they are.

How a count is taken: the request is sent once to warm the process caches (content types, …), then
again, identically shaped, inside `CaptureQueriesContext` through the real `APIClient` and URLconf.
In a test the service's `transaction.atomic()` is a savepoint of the test's own transaction, so
SAVEPOINT and RELEASE stand where BEGIN and COMMIT stand in production: the counts are the
production counts. Django's per-request connection health check is not captured (it is dealt with
by the connection pool settings, not by a view). Throttling is off in the suite (conftest.py), so
login and the throttled writes are pinned without their cache reads.

Lists are sent with `limit=1` and `limit=100` over a data set of several rows: both pages must cost
the same number of statements (no query per row, "N+1").

A pin may be lowered by whoever removes a statement; it is raised only with a reason in the review.
"""

import datetime as dt
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.tests.factories import TEST_PASSWORD, UserFactory
from accounts.tokens import AccessToken
from clicknback.audit.services import Actor
from clicknback.flags.models import ScopeType
from clicknback.flags.tests.factories import FeatureFlagFactory
from merchants.tests.factories import MerchantFactory
from offers.tests.factories import OfferFactory, days_from_today
from payouts.models import PayoutStatus
from payouts.tests import factories as payout_factories
from purchases.tests import factories as purchase_factories
from purchases.tests import signing

pytestmark = pytest.mark.django_db

LIST_ROWS = 3  # rows every list's data set holds at least: limit=1 shows one, limit=100 shows them all
_sequence = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_sequence):05d}"


def client_of(account) -> APIClient:
    """A bearer client for an account made by a case (the conftest fixtures cover the two usual callers)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_account(account)}")
    return client


@dataclass
class World:
    """The callers of the conftest fixtures, handed to every case's `arrange`."""

    user: object
    admin: object
    clients: dict


@dataclass(frozen=True)
class Req:
    """One request: path (with its query), JSON body, extra META headers, and a client other than the role's."""

    path: str
    body: dict | None = None
    headers: dict = field(default_factory=dict)
    client: APIClient | None = None
    raw: bytes | None = None  # sent byte for byte as application/json (a signed webhook body)


@dataclass(frozen=True)
class Case:
    ref: str  # "#15" for api.md §12, "§0.7" for a compatibility alias
    method: str
    route: str
    role: str  # "anonymous" | "user" | "admin": which conftest client sends it
    status: int
    pin: int | None
    statements: str  # what the pinned statements are, in order
    # Builds the data set once and returns a function that, called before each send (outside the
    # capture), prepares what that one request consumes (a fresh pending purchase, a new email, …).
    arrange: Callable[[World], Callable[[], Req]] | None
    is_list: bool = False

    @property
    def id(self) -> str:
        return f"{self.ref} {self.method} {self.route} as {self.role}"


def same(req: Req) -> Callable[[], Req]:
    return lambda: req


def fixed(path: str) -> Callable[[World], Callable[[], Req]]:
    """The arrangement of a request that needs no data beyond the callers themselves."""
    return lambda w: same(Req(path))


# --- data sets ------------------------------------------------------------------------------------------


def shop_purchases(user, count: int = LIST_ROWS) -> list:
    """`count` purchases of `user`, each at its own merchant with a live offer: one pending, one
    confirmed, one reversed, … so every cashback status and a different merchant name appear."""
    purchases = []
    for n in range(count):
        merchant = purchase_factories.live_offer().merchant
        purchase = purchase_factories.ingest(user=user, merchant=merchant)
        if n % 3 == 1:
            purchase = purchase_factories.confirm(purchase)
        elif n % 3 == 2:
            purchase = purchase_factories.reverse(purchase)
        purchases.append(purchase)
    return purchases


def payouts_of(user, admin, statuses=(PayoutStatus.PAID, PayoutStatus.REJECTED, PayoutStatus.REQUESTED)) -> list:
    """Payouts of `user` walked to `statuses` through the services (each requested 3 days ago)."""
    return [payout_factories.payout_in(status, user=user, admin=admin) for status in statuses]


def funded_user():
    user = UserFactory()
    payout_factories.give_available(user, "100.00")
    return user


def pending_purchase_of(user):
    return purchase_factories.ingest(user=user, merchant=purchase_factories.live_offer().merchant)


def signed(merchant, body: dict) -> Req:
    """A webhook request as the merchant signs it (api.md §10)."""
    raw = json.dumps(body).encode()
    headers = signing.signed_headers(merchant, raw)
    return Req(signing.WEBHOOK, raw=raw, headers={f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})


# --- arrangements, one per row of the table ---------------------------------------------------------------


def login(w):
    return same(Req("/api/v1/auth/login", {"email": w.user.email, "password": TEST_PASSWORD}))


def refresh(w):
    def next_request():
        pair = account_services.login(email=w.user.email, password=TEST_PASSWORD)
        return Req("/api/v1/auth/refresh", {"refresh_token": pair.refresh_token})
    return next_request


def register(w):
    return lambda: Req("/api/v1/users", {"email": f"{unique('new')}@example.com", "password": TEST_PASSWORD})


def create_merchant(w):
    return lambda: Req("/api/v1/merchants", {"name": unique("Shop"), "default_cashback_percentage": "5.00"})


def list_merchants(w):
    for _ in range(LIST_ROWS):
        OfferFactory()
    MerchantFactory(active=False)
    return same(Req("/api/v1/merchants"))


def deactivate_merchant(w):
    def next_request():
        offer = OfferFactory()
        purchase_factories.ingest(user=w.user, merchant=offer.merchant)
        return Req(f"/api/v1/merchants/{offer.merchant_id}/status", {"status": "inactive"})
    return next_request


def create_offer(w):
    def next_request():
        merchant = MerchantFactory()
        return Req("/api/v1/offers", {
            "merchant_id": str(merchant.pk), "cashback_type": "percent", "cashback_value": "5.00",
            "start_date": str(days_from_today(0)), "end_date": str(days_from_today(30)), "monthly_cap": "100.00",
        })
    return next_request


def list_offers(w):
    for _ in range(LIST_ROWS):
        OfferFactory()
    OfferFactory(active=False)
    OfferFactory(merchant=MerchantFactory(active=False))
    return same(Req("/api/v1/offers"))


def live_offers(w):
    for _ in range(LIST_ROWS):
        OfferFactory()
    OfferFactory(active=False)  # not live: the list must not even look at it
    OfferFactory(end_date=days_from_today(-1), start_date=days_from_today(-9))
    return same(Req("/api/v1/offers/active"))


def live_offer_detail(w):
    return same(Req(f"/api/v1/offers/{OfferFactory().pk}"))


def inactive_offer_detail(w):
    return same(Req(f"/api/v1/offers/{OfferFactory(active=False).pk}"))


def deactivate_offer(w):
    return lambda: Req(f"/api/v1/offers/{OfferFactory().pk}/status", {"status": "inactive"})


def ingest(w):
    merchant = purchase_factories.live_offer(cashback_value="10.00").merchant
    shop_purchases(w.user, 1)  # the wallet has a history and the month a first purchase at another shop
    purchase_factories.ingest(user=w.user, merchant=merchant)  # the cap read sums a non-empty month
    return lambda: Req("/api/v1/purchases", {
        "external_id": unique("ord"), "user_id": str(w.user.pk), "merchant_id": str(merchant.pk),
        "amount": "100.00", "currency": "EUR",
    })


def admin_purchases(w):
    for _ in range(LIST_ROWS):
        shop_purchases(UserFactory(), 1)
    return same(Req("/api/v1/purchases"))


def my_purchases(path: str):
    def arrange(w):
        shop_purchases(w.user)
        shop_purchases(UserFactory(), 1)  # someone else's: never listed
        return same(Req(path.format(user_id=w.user.pk)))
    return arrange


def someones_purchases(path: str):
    def arrange(w):
        other = UserFactory()
        shop_purchases(other)
        return same(Req(path.format(user_id=other.pk)))
    return arrange


def purchase_detail(w):
    purchase = purchase_factories.confirm(pending_purchase_of(w.user))
    return same(Req(f"/api/v1/purchases/{purchase.pk}"))


def confirm_purchase(path: str):
    def arrange(w):
        return lambda: Req(path.format(purchase_id=pending_purchase_of(UserFactory()).pk))
    return arrange


def reverse_purchase(path: str):
    def arrange(w):
        def next_request():
            purchase = purchase_factories.confirm(pending_purchase_of(UserFactory()))
            return Req(path.format(purchase_id=purchase.pk), {"reason": "Order cancelled."})
        return next_request
    return arrange


def my_wallet(path: str):
    def arrange(w):
        shop_purchases(w.user)
        return same(Req(path.format(user_id=w.user.pk)))
    return arrange


def someones_wallet(path: str):
    def arrange(w):
        other = UserFactory()
        shop_purchases(other)
        return same(Req(path.format(user_id=other.pk)))
    return arrange


def request_payout(path: str, *, idempotency_key: bool = False):
    def arrange(w):
        def next_request():
            # A new funded user each time: R-123 allows one payout per 48 h per user.
            user = funded_user()
            headers = {"HTTP_IDEMPOTENCY_KEY": unique("key")} if idempotency_key else {}
            return Req(path.format(user_id=user.pk), {
                "amount": "30.00", "method": "bank_transfer", "details": {"iban": "DE89370400440532013000"},
            }, headers, client_of(user))
        return next_request
    return arrange


def replayed_payout(w):
    """The warm-up request creates the payout; the measured one is its retry with the same key and body."""
    user = funded_user()
    return same(Req(f"{ME}/payouts", {"amount": "30.00", "method": "bank_transfer"},
                    {"HTTP_IDEMPOTENCY_KEY": unique("key")}, client_of(user)))


def my_payouts(path: str):
    def arrange(w):
        payouts_of(w.user, w.admin)
        payouts_of(UserFactory(), w.admin, statuses=(PayoutStatus.REQUESTED,))  # someone else's
        return same(Req(path.format(user_id=w.user.pk)))
    return arrange


def someones_payouts(path: str):
    def arrange(w):
        other = UserFactory()
        payouts_of(other, w.admin)
        return same(Req(path.format(user_id=other.pk)))
    return arrange


def admin_payouts(w):
    for status in (PayoutStatus.PAID, PayoutStatus.REJECTED, PayoutStatus.REQUESTED):
        payouts_of(UserFactory(), w.admin, statuses=(status,))
    return same(Req("/api/v1/payouts"))


def payout_detail(w):
    payout = payouts_of(w.user, w.admin, statuses=(PayoutStatus.PAID,))[0]
    return same(Req(f"/api/v1/payouts/{payout.pk}"))


def move_payout(start: str, target: str, **body):
    def arrange(w):
        def next_request():
            payout = payouts_of(UserFactory(), w.admin, statuses=(start,))[0]
            return Req(f"/api/v1/payouts/{payout.pk}/status", {"status": target, **body})
        return next_request
    return arrange


def webhook_created(w):
    merchant = purchase_factories.live_offer().merchant
    return lambda: signed(merchant, signing.created_body(user=w.user, external_id=unique("wh")))


def webhook_replayed(w):
    merchant = purchase_factories.live_offer().merchant
    body = signing.created_body(user=w.user, external_id=unique("wh"))
    signing.send(merchant, body)
    return lambda: signed(merchant, body)


def webhook_confirmed(w):
    merchant = purchase_factories.live_offer().merchant

    def next_request():
        purchase = purchase_factories.ingest(user=w.user, merchant=merchant)
        return signed(merchant, signing.status_body("confirmed", purchase.external_id))
    return next_request


def create_flag(w):
    return lambda: Req(f"/api/v1/feature-flags/{unique('flag').replace('-', '_')}",
                       {"enabled": True, "description": "Rolled out to everyone."})


def update_flag(w):
    flag = FeatureFlagFactory(description="First description.")
    toggle = itertools.cycle([False, True])
    return lambda: Req(f"/api/v1/feature-flags/{flag.key}", {"enabled": next(toggle)})


def delete_flag(w):
    return lambda: Req(f"/api/v1/feature-flags/{FeatureFlagFactory().key}?scope_type=global")


def list_flags(w):
    for _ in range(LIST_ROWS):
        FeatureFlagFactory()
    FeatureFlagFactory(scope_type=ScopeType.USER, scope_id=w.user.pk)
    return same(Req("/api/v1/feature-flags"))


def evaluate_flag(w):
    flag = FeatureFlagFactory(enabled=True)
    FeatureFlagFactory(key=flag.key, enabled=False, scope_type=ScopeType.MERCHANT)  # another scope, not this one
    return same(Req(f"/api/v1/feature-flags/{flag.key}/evaluate?scope_type=user&scope_id={w.user.pk}"))


# --- the table ------------------------------------------------------------------------------------------

WEBHOOK_CREATED = ("merchant (signature), BEGIN, then the ingestion of #15 without its auth (wallet FOR UPDATE, "
                   "one read, 4 INSERTs, UPDATE wallet, audit), COMMIT, BEGIN, INSERT webhook event (R-156), COMMIT")
WEBHOOK_REPLAY = ("merchant (signature), BEGIN, wallet FOR UPDATE, one read (finds the duplicate), the stored purchase, "
                  "ROLLBACK, BEGIN, INSERT webhook event, COMMIT")
WEBHOOK_CONFIRMED = ("merchant (signature), BEGIN, purchase FOR UPDATE (R-155 decision), SAVEPOINT, then #19's confirm "
                     "(purchase, cashback, wallet FOR UPDATE, 2 ledger INSERTs, 3 UPDATEs, audit), RELEASE, COMMIT, "
                     "BEGIN, INSERT webhook event, COMMIT")
AUTH = "auth user"  # the bearer token's user, read by clicknback.authentication
PAGE = f"{AUTH}, COUNT for pagination.total, the page"
PATH_USER_PAGE = f"{AUTH}, the path's user (R-22), COUNT, the page"
CONFIRM = (f"{AUTH}, BEGIN, purchase FOR UPDATE (its 404), cashback FOR UPDATE, wallet FOR UPDATE, "
           "INSERT ledger pending −x, INSERT ledger available +x, UPDATE wallet, UPDATE cashback, UPDATE purchase, "
           "INSERT audit, COMMIT")
REVERSE = (f"{AUTH}, BEGIN, purchase FOR UPDATE (its 404), cashback FOR UPDATE, wallet FOR UPDATE, "
           "INSERT ledger available −x, UPDATE wallet, UPDATE cashback, UPDATE purchase, INSERT audit, COMMIT")
PAYOUT = (f"{AUTH}, BEGIN, wallet FOR UPDATE, last payout time (R-123), week's SUM (R-124), INSERT payout, "
          "INSERT ledger available −x, UPDATE wallet, INSERT audit, COMMIT")
ME = "/api/v1/users/me"
ID = "/api/v1/users/{user_id}"

CASES = [
    # ref   method   route                                  role         status PIN  the statements
    Case("#1", "GET", "/health/live", "anonymous", 200, 0, "no I/O", fixed("/health/live")),
    Case("#2", "GET", "/health/ready", "anonymous", 200, 4,
         "BEGIN, SET LOCAL statement_timeout, SELECT 1, COMMIT", fixed("/health/ready")),
    Case("#3", "POST", "/api/v1/auth/login", "anonymous", 200, 5,
         "user by email (password check, outside any lock); BEGIN, user FOR UPDATE (R-220), INSERT refresh-token "
         "record, COMMIT", login),
    Case("#4", "POST", "/api/v1/auth/refresh", "anonymous", 200, 8,
         "BEGIN, user FOR UPDATE (R-220), token record, any revoked record in its family (R-220), UPDATE used_at "
         "(consume), family's first expiry, INSERT new record, COMMIT",
         refresh),
    Case("#5", "POST", "/api/v1/users", "anonymous", 201, 8,
         "BEGIN, email taken?, SAVEPOINT, INSERT user, RELEASE, INSERT wallet, INSERT audit, COMMIT", register),
    Case("#6", "GET", ME, "user", 200, 1, AUTH, fixed(ME)),
    Case("#7", "POST", "/api/v1/merchants", "admin", 201, 8,
         f"{AUTH}, BEGIN, name taken?, SAVEPOINT, INSERT merchant, RELEASE, INSERT audit, COMMIT", create_merchant),
    Case("#8", "GET", "/api/v1/merchants", "admin", 200, 3, PAGE, list_merchants, is_list=True),
    Case("#9", "PATCH", "/api/v1/merchants/{id}/status", "admin", 200, 7,
         f"{AUTH}, merchant (404 check), BEGIN, merchant FOR UPDATE, UPDATE merchant, INSERT audit, COMMIT",
         deactivate_merchant),
    Case("#10", "POST", "/api/v1/offers", "admin", 201, 9,
         f"{AUTH}, BEGIN, merchant, its active offer (R-45), SAVEPOINT, INSERT offer, RELEASE, INSERT audit, COMMIT",
         create_offer),
    Case("#11", "GET", "/api/v1/offers", "user", 200, 3, f"{PAGE} (merchant joined for R-33)", list_offers,
         is_list=True),
    Case("#11", "GET", "/api/v1/offers", "admin", 200, 3, PAGE, list_offers, is_list=True),
    Case("#12", "GET", "/api/v1/offers/active", "user", 200, 3, f"{PAGE} (plain rows joined to the merchant)",
         live_offers, is_list=True),
    Case("#13", "GET", "/api/v1/offers/{id}", "user", 200, 2, f"{AUTH}, offer joined to its merchant",
         live_offer_detail),
    Case("#13", "GET", "/api/v1/offers/{id} (inactive)", "admin", 200, 2, f"{AUTH}, offer joined to its merchant",
         inactive_offer_detail),
    Case("#14", "PATCH", "/api/v1/offers/{id}/status", "admin", 200, 9,
         f"{AUTH}, offer + merchant (404 check), BEGIN, offer FOR UPDATE, SAVEPOINT, UPDATE offer, RELEASE, "
         "INSERT audit, COMMIT", deactivate_offer),
    Case("#15", "POST", "/api/v1/purchases", "user", 201, 10,
         f"{AUTH}, BEGIN, wallet FOR UPDATE, one read (duplicate, user, merchant, live offer, month's cap sum), "
         "INSERT purchase ON CONFLICT, INSERT cashback, INSERT ledger, UPDATE wallet, INSERT audit, COMMIT "
         "(as purchases/tests/test_statements.py)", ingest),
    Case("#16", "GET", "/api/v1/purchases", "admin", 200, 3, PAGE, admin_purchases, is_list=True),
    Case("#17", "GET", f"{ME}/purchases", "user", 200, 3, f"{PAGE} (merchant name and cashback status joined)",
         my_purchases(f"{ME}/purchases"), is_list=True),
    Case("#18", "GET", "/api/v1/purchases/{id}", "user", 200, 2, f"{AUTH}, purchase + merchant + cashback",
         purchase_detail),
    Case("#18", "GET", "/api/v1/purchases/{id}", "admin", 200, 2, f"{AUTH}, purchase + merchant + cashback",
         purchase_detail),
    Case("#19", "POST", "/api/v1/purchases/{id}/confirmation", "admin", 200, 12, CONFIRM,
         confirm_purchase("/api/v1/purchases/{purchase_id}/confirmation")),
    Case("#20", "PATCH", "/api/v1/purchases/{id}/reverse", "admin", 200, 11, REVERSE,
         reverse_purchase("/api/v1/purchases/{purchase_id}/reverse")),
    Case("#21", "GET", f"{ME}/wallet", "user", 200, 2, f"{AUTH}, the four balances (one plain row)",
         my_wallet(f"{ME}/wallet")),
    Case("#22", "GET", f"{ME}/wallet/transactions", "user", 200, 3, PAGE, my_wallet(f"{ME}/wallet/transactions"),
         is_list=True),
    Case("#23", "POST", f"{ME}/payouts", "user", 201, 10, PAYOUT, request_payout(f"{ME}/payouts")),
    Case("#23", "POST", f"{ME}/payouts + Idempotency-Key", "user", 201, 13,
         f"{AUTH}, BEGIN, INSERT key ON CONFLICT DO NOTHING, key FOR UPDATE, wallet FOR UPDATE, last payout time "
         "(R-123), week's SUM (R-124), INSERT payout, INSERT ledger, UPDATE wallet, INSERT audit, "
         "UPDATE key (stored response), COMMIT", request_payout(f"{ME}/payouts", idempotency_key=True)),
    Case("#23", "POST", f"{ME}/payouts, replayed Idempotency-Key", "user", 201, 5,
         f"{AUTH}, BEGIN, INSERT key ON CONFLICT DO NOTHING (conflicts), key FOR UPDATE (stored response), "
         "COMMIT; nothing else is read or written (R-143)", replayed_payout),
    Case("#24", "GET", f"{ME}/payouts", "user", 200, 3, PAGE, my_payouts(f"{ME}/payouts"), is_list=True),
    Case("#25", "GET", "/api/v1/payouts", "admin", 200, 3, PAGE, admin_payouts, is_list=True),
    Case("#26", "GET", "/api/v1/payouts/{id}", "user", 200, 2, f"{AUTH}, payout", payout_detail),
    Case("#26", "GET", "/api/v1/payouts/{id}", "admin", 200, 2, f"{AUTH}, payout", payout_detail),
    Case("#27", "PATCH", "/api/v1/payouts/{id}/status requested→approved", "admin", 200, 7,
         f"{AUTH}, payout (404 check), BEGIN, payout FOR UPDATE, UPDATE payout, INSERT audit, COMMIT",
         move_payout(PayoutStatus.REQUESTED, PayoutStatus.APPROVED)),
    Case("#27", "PATCH", "/api/v1/payouts/{id}/status processing→paid", "admin", 200, 10,
         f"{AUTH}, payout (404 check), BEGIN, payout FOR UPDATE, wallet FOR UPDATE, INSERT ledger paid +x, "
         "UPDATE wallet, UPDATE payout, INSERT audit, COMMIT",
         move_payout(PayoutStatus.PROCESSING, PayoutStatus.PAID, external_reference="TRF-1")),
    Case("#27", "PATCH", "/api/v1/payouts/{id}/status requested→rejected", "admin", 200, 10,
         f"{AUTH}, payout (404 check), BEGIN, payout FOR UPDATE, wallet FOR UPDATE, INSERT ledger available +x, "
         "UPDATE wallet, UPDATE payout, INSERT audit, COMMIT",
         move_payout(PayoutStatus.REQUESTED, PayoutStatus.REJECTED, reason="Details do not match.")),
    Case("#28", "PUT", "/api/v1/feature-flags/{key} (new)", "admin", 200, 6,
         f"{AUTH}, BEGIN, flag FOR UPDATE (none), INSERT flag, INSERT audit, COMMIT", create_flag),
    Case("#28", "PUT", "/api/v1/feature-flags/{key} (update)", "admin", 200, 6,
         f"{AUTH}, BEGIN, flag FOR UPDATE, UPDATE flag, INSERT audit, COMMIT", update_flag),
    Case("#29", "DELETE", "/api/v1/feature-flags/{key}", "admin", 204, 6,
         f"{AUTH}, BEGIN, flag FOR UPDATE, INSERT audit, DELETE flag, COMMIT", delete_flag),
    Case("#30", "GET", "/api/v1/feature-flags", "admin", 200, 3, PAGE, list_flags, is_list=True),
    Case("#31", "GET", "/api/v1/feature-flags/{key}/evaluate", "admin", 200, 2,
         f"{AUTH}, the global and the scoped row in one read (R-160)", evaluate_flag),
    Case("#32", "POST", "/api/v1/webhooks/purchases (purchase.created)", "anonymous", 201, 13,
         WEBHOOK_CREATED, webhook_created),
    Case("#32", "POST", "/api/v1/webhooks/purchases (identical replay)", "anonymous", 200, 10,
         WEBHOOK_REPLAY, webhook_replayed),
    Case("#32", "POST", "/api/v1/webhooks/purchases (purchase.confirmed)", "anonymous", 200, 18,
         WEBHOOK_CONFIRMED, webhook_confirmed),
    # §0.7 compatibility aliases: each costs what its canonical route costs (plus, for an admin reading
    # another user's resources, the read of that user, R-22).
    Case("§0.7", "POST", "/api/v1/purchases/{id}/confirm", "admin", 200, 12, CONFIRM,
         confirm_purchase("/api/v1/purchases/{purchase_id}/confirm")),
    Case("§0.7", "POST", "/api/v1/purchases/{id}/reverse", "admin", 200, 11, REVERSE,
         reverse_purchase("/api/v1/purchases/{purchase_id}/reverse")),
    Case("§0.7", "GET", f"{ID}/purchases (own id)", "user", 200, 3, PAGE, my_purchases(f"{ID}/purchases"),
         is_list=True),
    Case("§0.7", "GET", f"{ID}/purchases (another user)", "admin", 200, 4, PATH_USER_PAGE,
         someones_purchases(f"{ID}/purchases"), is_list=True),
    Case("§0.7", "GET", f"{ID}/wallet (own id)", "user", 200, 2, f"{AUTH}, the four balances",
         my_wallet(f"{ID}/wallet")),
    Case("§0.7", "GET", f"{ID}/wallet (another user)", "admin", 200, 3, f"{AUTH}, the path's user, the balances",
         someones_wallet(f"{ID}/wallet")),
    Case("§0.7", "GET", f"{ID}/wallet/transactions (own id)", "user", 200, 3, PAGE,
         my_wallet(f"{ID}/wallet/transactions"), is_list=True),
    Case("§0.7", "GET", f"{ID}/wallet/transactions (another user)", "admin", 200, 4, PATH_USER_PAGE,
         someones_wallet(f"{ID}/wallet/transactions"), is_list=True),
    Case("§0.7", "GET", f"{ID}/payouts (own id)", "user", 200, 3, PAGE, my_payouts(f"{ID}/payouts"), is_list=True),
    Case("§0.7", "GET", f"{ID}/payouts (another user)", "admin", 200, 4, PATH_USER_PAGE,
         someones_payouts(f"{ID}/payouts"), is_list=True),
    Case("§0.7", "POST", f"{ID}/payouts (own id)", "user", 201, 10, PAYOUT, request_payout(f"{ID}/payouts")),
]


def params(cases):
    return [
        pytest.param(case, id=case.id, marks=[pytest.mark.skip(reason=f"{case.ref}: {case.statements}")]
                     if case.arrange is None else [])
        for case in cases
    ]


# --- the measurement ------------------------------------------------------------------------------------


@pytest.fixture
def world(user, admin_user, user_client, admin_client, api_client) -> World:
    return World(user=user, admin=admin_user,
                 clients={"anonymous": api_client, "user": user_client, "admin": admin_client})


def send(world: World, case: Case, req: Req, query: str = ""):
    client = req.client or world.clients[case.role]
    path = req.path + (("&" if "?" in req.path else "?") + query if query else "")
    if req.raw is not None:
        return client.generic(case.method, path, req.raw, content_type="application/json", **req.headers)
    method = getattr(client, case.method.lower())
    if req.body is None:
        return method(path, **req.headers)
    return method(path, req.body, format="json", **req.headers)


def measure(world: World, case: Case, next_request: Callable[[], Req], query: str = "") -> tuple:
    """Warm-up request, then the measured one: (response, [sql, …])."""
    warm_up = send(world, case, next_request(), query)
    assert warm_up.status_code == case.status, (case.id, warm_up.status_code, warm_up.content[:1000])
    req = next_request()
    with CaptureQueriesContext(connection) as captured:
        response = send(world, case, req, query)
    return response, [q["sql"] for q in captured.captured_queries]


def listing(case: Case, sql: list[str], query: str = "") -> str:
    lines = [f"{case.id}{' ?' + query if query else ''}: {len(sql)} statements, pinned at {case.pin}"
             f" ({case.statements})"]
    lines += [f"{n:>3}. {statement}" for n, statement in enumerate(sql, 1)]
    return "\n".join(lines)


def check(case: Case, response, sql: list[str], query: str = "") -> None:
    assert response.status_code == case.status, f"{response.content[:1000]!r}\n{listing(case, sql, query)}"
    if case.pin is None or len(sql) > case.pin:
        pytest.fail(f"more statements than pinned:\n{listing(case, sql, query)}")


@pytest.mark.parametrize("case", params([c for c in CASES if not c.is_list]))
def test_endpoint_sends_no_more_statements_than_pinned(world, case):
    response, sql = measure(world, case, case.arrange(world))
    check(case, response, sql)


@pytest.mark.parametrize("case", params([c for c in CASES if c.is_list]))
def test_list_sends_as_many_statements_for_one_row_as_for_a_hundred(world, case):
    next_request = case.arrange(world)
    one, sql_one = measure(world, case, next_request, "limit=1")
    check(case, one, sql_one, "limit=1")
    hundred, sql_hundred = measure(world, case, next_request, "limit=100")
    check(case, hundred, sql_hundred, "limit=100")
    total = hundred.json()["pagination"]["total"]
    assert total >= LIST_ROWS and len(one.json()["data"]) == 1 and len(hundred.json()["data"]) == total
    if len(sql_one) != len(sql_hundred):
        pytest.fail(f"a statement per row (N+1):\n{listing(case, sql_one, 'limit=1')}\n"
                    f"{listing(case, sql_hundred, 'limit=100')}")


def test_the_table_covers_every_endpoint_of_the_index_and_every_alias():
    """api.md §12 numbers 1…32 and the seven routes of §0.7 each have a row."""
    assert {case.ref for case in CASES} >= {f"#{n}" for n in range(1, 33)}
    alias_routes = {case.route.split(" (")[0] for case in CASES if case.ref == "§0.7"}
    assert alias_routes == {
        "/api/v1/purchases/{id}/confirm", "/api/v1/purchases/{id}/reverse", f"{ID}/purchases", f"{ID}/wallet",
        f"{ID}/wallet/transactions", f"{ID}/payouts",
    }
    assert {(c.method, c.route.split(" (")[0]) for c in CASES if c.route.startswith(f"{ID}/payouts")} == {
        ("GET", f"{ID}/payouts"), ("POST", f"{ID}/payouts"),
    }
