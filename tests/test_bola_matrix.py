"""The BOLA matrix (issue 9, OWASP API1): every route that takes an object id or a user path, called
with another user's ids — by a plain user and by an admin — answers the status and code the spec
gives (api.md §0.7, §7, §9, R-21, R-22, R-62) and no body carries the victim's data unless the
caller is an admin reading it on purpose.

One table; a last test checks the table covers every templated path of the OpenAPI schema."""

import io
import json
from decimal import Decimal

import pytest
import yaml
from django.core.management import call_command

from accounts.tests.factories import AdminFactory, UserFactory
from clicknback.audit.services import Actor
from conftest import bearer_client
from merchants.tests.factories import MerchantFactory
from offers.tests.factories import OfferFactory
from payouts import services as payout_services
from payouts.views import render_payout
from purchases import services as purchase_services

VICTIM_EXTERNAL_ID = "victim-order-7731"
VICTIM_AMOUNT = "987.65"
VICTIM_IBAN = "VICTIM-IBAN-DE0012345678"
UNKNOWN = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def world(db):
    """A victim with a confirmed purchase and a requested payout; an attacker (a plain user) with
    their own purchase; an admin; an inactive offer (for the admin-only offer routes)."""
    victim, attacker, admin = UserFactory(), UserFactory(), AdminFactory()
    offer = OfferFactory(cashback_type="fixed", cashback_value=Decimal("50.00"),
                         monthly_cap_per_user=Decimal("500.00"))
    merchant = offer.merchant
    purchase = purchase_services.ingest_purchase(
        user_id=victim.pk, merchant_id=merchant.pk, external_id=VICTIM_EXTERNAL_ID, amount=Decimal(VICTIM_AMOUNT),
        currency="EUR", actor=Actor.of_user(victim))
    purchase_services.confirm_purchase(purchase_id=purchase.pk, actor=Actor.of_user(admin))
    payout = payout_services.request_payout(
        user=victim, amount=Decimal("20.00"), method="bank_transfer", details={"iban": VICTIM_IBAN},
        idempotency_key=None, actor=Actor.of_user(victim), render=render_payout).payout
    pending = purchase_services.ingest_purchase(
        user_id=victim.pk, merchant_id=merchant.pk, external_id="victim-order-7732", amount=Decimal("11.00"),
        currency="EUR", actor=Actor.of_user(victim))
    purchase_services.ingest_purchase(
        user_id=attacker.pk, merchant_id=merchant.pk, external_id="attacker-order-1", amount=Decimal("12.00"),
        currency="EUR", actor=Actor.of_user(attacker))
    inactive_offer = OfferFactory(merchant=MerchantFactory(), active=False)
    return {
        "victim": victim, "attacker": attacker, "admin": admin, "purchase": purchase, "pending": pending,
        "payout": payout, "merchant": merchant, "offer": offer, "inactive_offer": inactive_offer,
    }


def ids(world) -> dict:
    return {
        "victim_id": world["victim"].pk, "purchase_id": world["purchase"].pk, "pending_id": world["pending"].pk,
        "payout_id": world["payout"].pk, "merchant_id": world["merchant"].pk, "offer_id": world["offer"].pk,
        "inactive_offer_id": world["inactive_offer"].pk, "unknown": UNKNOWN,
    }


def ingestion_for_victim(w):
    return {"external_id": "bola-1", "user_id": str(w["victim"].pk), "merchant_id": str(w["merchant"].pk),
            "amount": "10.00", "currency": "EUR"}


# (caller, method, path, body or a function of the world, status, code, may the body show the victim's data?)
FORBIDDEN_OWN = ("FORBIDDEN", {"reason": "You can only access your own resources."})
MATRIX = [
    # --- purchases: another user's is "not found" to a user (api.md §7), readable by an admin
    ("user", "get", "/api/v1/purchases/{purchase_id}", None, 404, "NOT_FOUND", False),
    ("admin", "get", "/api/v1/purchases/{purchase_id}", None, 200, None, True),
    ("user", "get", "/api/v1/purchases/{unknown}", None, 404, "NOT_FOUND", False),
    ("user", "post", "/api/v1/purchases/{pending_id}/confirmation", None, 403, "FORBIDDEN", False),
    ("user", "post", "/api/v1/purchases/{pending_id}/confirm", None, 403, "FORBIDDEN", False),
    ("user", "patch", "/api/v1/purchases/{purchase_id}/reverse", {}, 403, "FORBIDDEN", False),
    ("user", "post", "/api/v1/purchases/{purchase_id}/reverse", {}, 403, "FORBIDDEN", False),
    ("user", "post", "/api/v1/purchases", ingestion_for_victim, 403, "FORBIDDEN", False),
    ("admin", "post", "/api/v1/purchases", ingestion_for_victim, 403, "FORBIDDEN", False),  # admins included
    ("user", "get", "/api/v1/purchases?user_id={victim_id}", None, 403, "FORBIDDEN", False),
    # --- the /users/{user_id}/… aliases
    ("user", "get", "/api/v1/users/{victim_id}/purchases", None, 403, FORBIDDEN_OWN, False),
    ("user", "get", "/api/v1/users/{victim_id}/wallet", None, 403, FORBIDDEN_OWN, False),
    ("user", "get", "/api/v1/users/{victim_id}/wallet/transactions", None, 403, FORBIDDEN_OWN, False),
    ("user", "get", "/api/v1/users/{victim_id}/payouts", None, 403, FORBIDDEN_OWN, False),
    ("user", "post", "/api/v1/users/{victim_id}/payouts", {"amount": "10.00"}, 403, FORBIDDEN_OWN, False),
    ("user", "get", "/api/v1/users/{unknown}/wallet", None, 403, FORBIDDEN_OWN, False),  # before existence
    ("user", "get", "/api/v1/users/not-a-uuid/payouts", None, 403, FORBIDDEN_OWN, False),  # before format
    ("admin", "get", "/api/v1/users/{victim_id}/purchases", None, 200, None, True),
    ("admin", "get", "/api/v1/users/{victim_id}/wallet", None, 200, None, True),
    ("admin", "get", "/api/v1/users/{victim_id}/wallet/transactions", None, 200, None, True),
    ("admin", "get", "/api/v1/users/{victim_id}/payouts", None, 200, None, True),
    ("admin", "post", "/api/v1/users/{victim_id}/payouts", {"amount": "10.00"}, 403, "FORBIDDEN", False),
    ("admin", "get", "/api/v1/users/{unknown}/wallet", None, 404, "NOT_FOUND", False),
    # --- payouts: another user's is "not found" to a user (api.md §9)
    ("user", "get", "/api/v1/payouts/{payout_id}", None, 404, "NOT_FOUND", False),
    ("admin", "get", "/api/v1/payouts/{payout_id}", None, 200, None, True),
    ("user", "patch", "/api/v1/payouts/{payout_id}/status", {"status": "rejected"}, 403, "FORBIDDEN", False),
    ("user", "get", "/api/v1/payouts?user_id={victim_id}", None, 403, "FORBIDDEN", False),
    # --- the caller's own lists never show the victim
    ("user", "get", "/api/v1/users/me/purchases", None, 200, None, False),
    ("user", "get", "/api/v1/users/me/wallet", None, 200, None, False),
    ("user", "get", "/api/v1/users/me/wallet/transactions", None, 200, None, False),
    ("user", "get", "/api/v1/users/me/payouts", None, 200, None, False),
    ("user", "get", "/api/v1/users/me", None, 200, None, False),
    # --- merchants, offers, flags: admin objects a user may not touch
    ("user", "patch", "/api/v1/merchants/{merchant_id}/status", {"status": "inactive"}, 403, "FORBIDDEN", False),
    ("user", "patch", "/api/v1/offers/{offer_id}/status", {"status": "inactive"}, 403, "FORBIDDEN", False),
    ("user", "get", "/api/v1/offers/{inactive_offer_id}", None, 403, "FORBIDDEN", False),
    ("admin", "get", "/api/v1/offers/{inactive_offer_id}", None, 200, None, False),
    ("user", "put", "/api/v1/feature-flags/purchase_auto_confirm",
     {"enabled": False, "scope_type": "user", "scope_id": "{victim_id}"}, 403, "FORBIDDEN", False),
    ("user", "delete", "/api/v1/feature-flags/purchase_auto_confirm?scope_type=user&scope_id={victim_id}",
     None, 403, "FORBIDDEN", False),
    ("user", "get", "/api/v1/feature-flags/purchase_auto_confirm/evaluate?scope_type=user&scope_id={victim_id}",
     None, 403, "FORBIDDEN", False),
]


def _label(row):
    caller, method, path, *_ = row
    return f"{caller} {method.upper()} {path}"


def _fill(value, values: dict):
    if isinstance(value, str):
        return value.format(**values)
    if isinstance(value, dict):
        return {key: _fill(item, values) for key, item in value.items()}
    return value


def victim_secrets(world) -> list[str]:
    """What a body must not contain unless an admin asked for it: who the victim is and what they did."""
    return [world["victim"].email, VICTIM_EXTERNAL_ID, VICTIM_AMOUNT, VICTIM_IBAN, str(world["payout"].pk),
            str(world["pending"].pk)]


@pytest.mark.parametrize("row", MATRIX, ids=_label)
def test_another_users_ids_get_the_spec_status_and_none_of_their_data(row, world):
    caller, method, path, body, status, expected, may_show_victim = row
    values = ids(world)
    url = path.format(**values)
    client = bearer_client(world["admin"] if caller == "admin" else world["attacker"])
    payload = body(world) if callable(body) else _fill(body, values)
    kwargs = {"format": "json"} if payload is not None else {}
    response = getattr(client, method)(url, payload, **kwargs) if payload is not None else getattr(client, method)(url)

    assert response.status_code == status, response.content
    text = response.content.decode()
    if expected is not None:
        code, details = expected if isinstance(expected, tuple) else (expected, None)
        error = json.loads(text)["error"]
        assert error["code"] == code
        if details is not None:
            assert error["details"] == details
    if not may_show_victim:
        # The victim's own ids may be echoed only where the caller put them in the request.
        leaked = [secret for secret in victim_secrets(world) if secret in text and secret not in url]
        assert leaked == [], f"{_label(row)} leaks {leaked}: {text[:500]}"
    else:
        # An admin reading on purpose gets the victim's data, not their own (their wallet is empty).
        victim_markers = [str(world["victim"].pk), VICTIM_AMOUNT, VICTIM_IBAN, '"available_balance":"30.00"',
                          str(world["pending"].pk)]
        assert any(marker in text for marker in victim_markers), text[:500]


def test_nothing_moved_for_the_victim(world):
    """Every refused write of the matrix left the victim's purchase, payout and flags as they were."""
    from clicknback.flags.models import FeatureFlag

    for row in MATRIX:
        caller, method, path, body, status, *_ = row
        if method == "get" or status < 400:
            continue
        values = ids(world)
        client = bearer_client(world["admin"] if caller == "admin" else world["attacker"])
        payload = body(world) if callable(body) else _fill(body, values)
        url = path.format(**values)
        if payload is not None:
            getattr(client, method)(url, payload, format="json")
        else:
            getattr(client, method)(url)
    world["purchase"].refresh_from_db()
    world["pending"].refresh_from_db()
    world["payout"].refresh_from_db()
    assert (world["purchase"].status, world["pending"].status, world["payout"].status) == (
        "confirmed", "pending", "requested")
    assert not FeatureFlag.objects.exists()
    assert world["merchant"].__class__.objects.get(pk=world["merchant"].pk).active
    assert world["victim"].purchases.count() == 2


def test_the_matrix_covers_every_templated_route_of_the_schema():
    out = io.StringIO()
    call_command("spectacular", stdout=out)
    schema = yaml.safe_load(out.getvalue())
    templated = {(method, path) for path, ops in schema["paths"].items() if "{" in path for method in ops
                 if method != "head"}
    covered = set()
    for _, method, path, *_ in MATRIX:
        template = path.split("?")[0]
        for name, placeholder in (("victim_id", "user_id"), ("unknown", None), ("purchase_id", "purchase_id"),
                                  ("pending_id", "purchase_id"), ("payout_id", "payout_id"),
                                  ("merchant_id", "merchant_id"), ("offer_id", "offer_id"),
                                  ("inactive_offer_id", "offer_id")):
            if placeholder:
                template = template.replace("{" + name + "}", "{" + placeholder + "}")
        template = template.replace("/users/{unknown}/", "/users/{user_id}/").replace("/users/not-a-uuid/",
                                                                                    "/users/{user_id}/")
        template = template.replace("/purchases/{unknown}", "/purchases/{purchase_id}")
        template = template.replace("/feature-flags/purchase_auto_confirm", "/feature-flags/{key}")
        covered.add((method, template))
    missing = templated - covered
    assert missing == set(), sorted(missing)
    print(f"\nBOLA matrix: {len(MATRIX)} rows, {len(templated)} templated operations of the schema covered")
