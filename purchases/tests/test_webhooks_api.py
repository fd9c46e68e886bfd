"""POST /api/v1/webhooks/purchases over HTTP (api.md §10; R-150…R-157, R-201, R-206): every row of the
error table in its place in the order, the three events and their idempotency, the WebhookEvent log
(R-156) and the back-office pages for it. APIClient + the real URLconf, on PostgreSQL."""

import datetime as dt
import json
import re
import time
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from clicknback.audit.models import ActorType, AuditAction, AuditLog
from clicknback.audit.services import Actor
from clicknback.testing import assert_wallets_reconcile, changelist_pks, error_of, violation_fields
from merchants import services as merchant_services
from merchants.tests.factories import MerchantFactory
from purchases.models import (
    Purchase,
    PurchaseSource,
    PurchaseStatus,
    WebhookEvent,
    WebhookEventAppendOnlyError,
)
from purchases.tests.factories import confirm, ingest, live_offer, next_external_id, reject, reverse
from purchases.tests.signing import WEBHOOK, created_body, encode, send, status_body
from wallets.models import CashbackTransaction, LedgerEntry, Wallet

pytestmark = pytest.mark.django_db

D = Decimal
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
WEBHOOK_PURCHASE_KEYS = {"id", "external_id", "merchant_id", "user_id", "amount", "currency", "status",
                         "cashback_amount", "created_at", "updated_at"}


@pytest.fixture
def merchant():
    """A merchant whose live offer pays 5 % (cap 100.00 a month)."""
    return live_offer().merchant


@pytest.fixture
def shopper():
    return UserFactory()


def wallet_of(user) -> Wallet:
    return Wallet.objects.get(user=user)


def ledger_of(purchase) -> list[tuple[str, Decimal, str]]:
    return [(e.balance, e.amount, e.reason) for e in LedgerEntry.objects.filter(purchase=purchase).order_by("id")]


def written_state() -> dict:
    """Everything an event may change; compared before/after a refused or no-op request."""
    return {
        "purchases": sorted(Purchase.objects.values_list("id", "status", "cashback_amount", "updated_at")),
        "cashback": sorted(CashbackTransaction.objects.values_list("id", "status")),
        "ledger": LedgerEntry.objects.count(),
        "audit": AuditLog.objects.count(),
        "wallets": sorted(Wallet.objects.values_list("user_id", "pending_balance", "available_balance",
                                                     "paid_balance", "clawback_balance")),
    }


def report(merchant, shopper, **fields):
    return send(merchant, created_body(user=shopper, external_id=fields.pop("external_id", None) or next_external_id(),
                                       **fields))


def last_event() -> WebhookEvent:
    return WebhookEvent.objects.order_by("-received_at", "-id").first()


# --- purchase.created --------------------------------------------------------------------------------


def test_created_answers_201_with_the_webhook_purchase_and_runs_the_ingestion_service(merchant, shopper):
    response = send(merchant, created_body(user=shopper, external_id="ord-1001", amount="100.00", currency="EUR",
                                           purchased_at="2026-03-05T10:15:30Z"))

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == WEBHOOK_PURCHASE_KEYS
    purchase = Purchase.objects.get()
    assert body["id"] == str(purchase.pk)
    assert (body["external_id"], body["merchant_id"], body["user_id"]) == ("ord-1001", str(merchant.pk), str(shopper.pk))
    assert (body["amount"], body["currency"], body["status"], body["cashback_amount"]) == (
        "100.00", "EUR", "pending", "5.00")
    assert DATETIME.match(body["created_at"]) and DATETIME.match(body["updated_at"])
    assert purchase.source == PurchaseSource.WEBHOOK
    assert purchase.purchased_at == dt.datetime(2026, 3, 5, 10, 15, 30, tzinfo=dt.UTC)  # stored for information
    assert wallet_of(shopper).pending_balance == D("5.00")
    assert ledger_of(purchase) == [("pending", D("5.00"), "cashback_earned")]
    assert CashbackTransaction.objects.get(purchase=purchase).amount == D("5.00")
    # audited as the merchant, by the same service as the API.
    audit = AuditLog.objects.get(action=AuditAction.PURCHASE_INGESTED)
    assert (audit.actor_type, audit.actor_id) == (ActorType.MERCHANT, merchant.pk)
    assert audit.details["source"] == "webhook"
    assert LedgerEntry.objects.get(purchase=purchase).actor_type == ActorType.MERCHANT
    assert_wallets_reconcile()


def test_created_with_a_trailing_slash_and_a_charset_is_the_same_endpoint(merchant, shopper):
    response = send(merchant, created_body(user=shopper, external_id=next_external_id()),
                    path=WEBHOOK + "/", content_type="application/json; charset=utf-8")
    assert response.status_code == 201, response.content


def test_an_authorization_header_is_ignored(merchant, shopper):
    response = send(merchant, created_body(user=shopper, external_id=next_external_id()),
                    headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 201, response.content


def test_amount_as_a_json_number_is_read_as_decimal(merchant, shopper):
    raw = ('{"event": "purchase.created", "external_id": "n-1", "user_id": "%s", "amount": 19.99, '
           '"currency": "EUR"}' % shopper.pk).encode()
    response = send(merchant, raw)
    assert response.status_code == 201, response.content
    assert response.json()["amount"] == "19.99"
    assert response.json()["cashback_amount"] == "1.00"  # 0.9995 → 1.00 half-even


def test_identical_replay_answers_200_with_the_stored_purchase_and_changes_nothing(merchant, shopper):
    first = report(merchant, shopper, external_id="ord-7", amount="100.00", currency="EUR")
    before = written_state()

    # numeric equality and case-insensitive currency; purchased_at is not compared.
    replay = send(merchant, created_body(user=shopper, external_id="ord-7", amount="100.0", currency="eur",
                                         purchased_at="2020-01-01T00:00:00Z"))

    assert replay.status_code == 200, replay.content
    assert replay.json() == first.json()
    assert written_state() == before


@pytest.mark.parametrize("settle", [confirm, reverse, reject])
def test_identical_replay_answers_200_whatever_the_stored_status(merchant, shopper, settle):
    report(merchant, shopper, external_id="ord-8")
    settle(Purchase.objects.get())
    before = written_state()

    replay = report(merchant, shopper, external_id="ord-8")

    assert replay.status_code == 200, replay.content
    assert replay.json()["status"] == Purchase.objects.get().status
    assert written_state() == before


def test_replay_of_a_purchase_the_user_recorded_through_the_api_is_also_a_replay(merchant, shopper):
    # "whichever channel created the stored purchase".
    stored = ingest(user=shopper, merchant=merchant, external_id="api-1", amount="42.00")
    response = report(merchant, shopper, external_id="api-1", amount="42.00")
    assert response.status_code == 200, response.content
    assert response.json()["id"] == str(stored.pk)


def test_replay_for_a_user_deactivated_since_still_answers_the_stored_purchase(merchant, shopper):
    report(merchant, shopper, external_id="ord-9")
    type(shopper).objects.filter(pk=shopper.pk).update(is_active=False)
    assert report(merchant, shopper, external_id="ord-9").status_code == 200


@pytest.mark.parametrize("change", [
    {"amount": "100.01"},
    {"currency": "USD"},
    {"user": "other"},
])
def test_created_with_different_money_fields_is_409_external_id_conflict(merchant, shopper, change):
    first = report(merchant, shopper, external_id="ord-10", amount="100.00", currency="EUR")
    user = UserFactory() if change.pop("user", None) else shopper
    before = written_state()

    response = send(merchant, created_body(user=user, external_id="ord-10", **{"amount": "100.00", **change}))

    error = error_of(response, 409, "EXTERNAL_ID_CONFLICT")
    assert error["details"] == {"external_id": "ord-10", "purchase_id": first.json()["id"]}
    assert written_state() == before


def test_the_same_external_id_at_another_merchant_is_a_new_purchase(merchant, shopper):
    other = live_offer().merchant
    assert report(merchant, shopper, external_id="shared").status_code == 201
    assert report(other, shopper, external_id="shared").status_code == 201
    assert Purchase.objects.filter(external_id="shared").count() == 2


# --- purchase.confirmed / purchase.reversed ---------------------------------------------------------


def test_confirmed_moves_the_cashback_to_available_then_a_repeat_is_a_no_op(merchant, shopper):
    purchase = ingest(user=shopper, merchant=merchant)

    response = send(merchant, status_body("confirmed", purchase.external_id))

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "confirmed" and response.json()["cashback_amount"] == "5.00"
    wallet = wallet_of(shopper)
    assert (wallet.pending_balance, wallet.available_balance) == (D("0.00"), D("5.00"))
    audit = AuditLog.objects.get(action=AuditAction.PURCHASE_CONFIRMED)
    assert (audit.actor_type, audit.actor_id) == (ActorType.MERCHANT, merchant.pk)
    before = written_state()

    again = send(merchant, status_body("confirmed", purchase.external_id))

    assert again.status_code == 200 and again.json() == response.json()
    assert written_state() == before  # no-op
    assert_wallets_reconcile()


@pytest.mark.parametrize("from_status", ["pending", "confirmed"])
def test_reversed_takes_the_cashback_back_with_the_reason_then_a_repeat_is_a_no_op(merchant, shopper, from_status):
    purchase = ingest(user=shopper, merchant=merchant)
    if from_status == "confirmed":
        confirm(purchase)

    response = send(merchant, status_body("reversed", purchase.external_id, reason="Order refunded."))

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "reversed" and response.json()["cashback_amount"] == "0.00"
    purchase.refresh_from_db()
    assert purchase.status_reason == "Order refunded."
    wallet = wallet_of(shopper)
    assert (wallet.pending_balance, wallet.available_balance, wallet.clawback_balance) == (D("0"), D("0"), D("0"))
    audit = AuditLog.objects.get(action=AuditAction.PURCHASE_REVERSED)
    assert (audit.actor_type, audit.actor_id) == (ActorType.MERCHANT, merchant.pk)
    assert audit.details["from"] == from_status
    before = written_state()

    again = send(merchant, status_body("reversed", purchase.external_id, reason="Again."))

    assert again.status_code == 200 and again.json()["status"] == "reversed"
    assert written_state() == before
    purchase.refresh_from_db()
    assert purchase.status_reason == "Order refunded."
    assert_wallets_reconcile()


def test_status_events_ignore_the_purchase_created_fields(merchant, shopper):
    purchase = ingest(user=shopper, merchant=merchant)
    response = send(merchant, status_body("confirmed", purchase.external_id, user_id="junk", amount="-1",
                                          currency=7, purchased_at="yesterday"))
    assert response.status_code == 200, response.content


def test_purchase_created_ignores_the_reason(merchant, shopper):
    response = send(merchant, created_body(user=shopper, external_id=next_external_id(), reason=["not", "read"]))
    assert response.status_code == 201, response.content


def test_status_events_work_for_an_inactive_merchant(merchant, shopper):
    # deactivation stops new business, not money already owed.
    purchase = ingest(user=shopper, merchant=merchant)
    merchant_services.set_merchant_active(merchant_id=merchant.pk, active=False, actor=Actor.system())
    assert send(merchant, status_body("confirmed", purchase.external_id)).json()["status"] == "confirmed"
    assert send(merchant, status_body("reversed", purchase.external_id)).json()["status"] == "reversed"


@pytest.mark.parametrize("stored, event", [
    ("reversed", "confirmed"),
    ("rejected", "confirmed"),
    ("rejected", "reversed"),
])
def test_a_status_event_the_status_does_not_allow_is_409_purchase_state_conflict(merchant, shopper, stored, event):
    purchase = ingest(user=shopper, merchant=merchant, external_id="ord-20")
    (reverse if stored == "reversed" else reject)(purchase)
    before = written_state()

    response = send(merchant, status_body(event, "ord-20"))

    error = error_of(response, 409, "PURCHASE_STATE_CONFLICT")
    assert error["details"] == {"external_id": "ord-20", "current_status": stored, "requested_status": event}
    assert written_state() == before


@pytest.mark.parametrize("event", ["confirmed", "reversed"])
def test_a_status_event_for_an_unknown_external_id_is_404(merchant, shopper, event):
    ingest(user=shopper, merchant=live_offer().merchant, external_id="theirs")  # another merchant's purchase
    for external_id in ["never-sent", "theirs"]:
        response = send(merchant, status_body(event, external_id))
        error = error_of(response, 404, "NOT_FOUND")
        assert error["details"] == {"resource_type": "purchase", "external_id": external_id}


# --- the error table, row by row, each in its place ------------------------------------------------


def test_413_comes_first_even_before_the_signature(merchant, shopper):
    huge = created_body(user=shopper, external_id=next_external_id(), padding="x" * 70_000)
    for response in [
        send(merchant, huge),  # well signed
        send(merchant, huge, drop=("X-ClickNBack-Signature",)),  # and not signed at all
        send(merchant, huge, content_type="text/plain", timestamp=0),
    ]:
        error = error_of(response, 413, "PAYLOAD_TOO_LARGE")
        assert error["details"] == {"max_bytes": 65536}
    assert not WebhookEvent.objects.exists()


def test_a_body_of_exactly_64_kib_is_read(merchant, shopper):
    body = created_body(user=shopper, external_id=next_external_id())
    raw = encode(body)
    raw = raw[:-1] + b', "padding": "' + b"x" * (65536 - len(raw) - 15) + b'"}'
    assert len(raw) == 65536
    assert send(merchant, raw).status_code == 201


def test_invalid_signature_comes_before_the_timestamp_window(merchant, shopper):
    response = send(merchant, created_body(user=shopper, external_id=next_external_id()), timestamp=1000,
                    secret=MerchantFactory().webhook_secret)
    error_of(response, 401, "INVALID_SIGNATURE")


@pytest.mark.parametrize("offset", [-301, 301, -86400, 86400 * 365])
def test_timestamp_outside_the_window_is_401_with_the_tolerance(merchant, shopper, offset):
    response = send(merchant, created_body(user=shopper, external_id=next_external_id()),
                    timestamp=int(time.time()) + offset)
    error = error_of(response, 401, "TIMESTAMP_OUT_OF_WINDOW")
    assert error["details"] == {"tolerance_seconds": 300}
    assert not Purchase.objects.exists()
    assert not WebhookEvent.objects.exists()  # only requests past both checks are stored


@pytest.mark.parametrize("offset", [-290, 290])
def test_timestamp_inside_the_window_is_accepted_both_ways(merchant, shopper, offset):
    response = send(merchant, created_body(user=shopper, external_id=next_external_id()),
                    timestamp=int(time.time()) + offset)
    assert response.status_code == 201, response.content


def test_invalid_signature_comes_before_content_type_body_and_event_errors(merchant, shopper):
    for body, content_type in [(b"{broken", "text/plain"), (b"{broken", "application/json"),
                               (status_body("confirmed", "never-sent"), "application/json")]:
        response = send(merchant, body, content_type=content_type, secret="whsec_not-the-secret")
        error_of(response, 401, "INVALID_SIGNATURE")
    assert not WebhookEvent.objects.exists()


def test_the_window_comes_before_the_content_type(merchant, shopper):
    response = send(merchant, b"not json", timestamp=int(time.time()) - 1000, content_type="text/plain")
    error_of(response, 401, "TIMESTAMP_OUT_OF_WINDOW")


@pytest.mark.parametrize("content_type", ["text/plain", "", "application/x-www-form-urlencoded",
                                          "application/json-patch+json", "application/json; charset=latin-1"])
def test_a_non_json_content_type_is_415_after_the_signature(merchant, shopper, content_type):
    # even with a body that is not valid JSON either (415 comes before 400).
    for body in [created_body(user=shopper, external_id=next_external_id()), b"{broken"]:
        response = send(merchant, body, content_type=content_type)
        error = error_of(response, 415, "UNSUPPORTED_MEDIA_TYPE")
        assert error["details"] == {}
    assert not Purchase.objects.exists()


@pytest.mark.parametrize("raw", [b"", b"{broken", b"[]", b"null", b'"text"', b"\xff\xfe", b"[" * 40 + b"]" * 40,
                                 b'{"a":' * 2000 + b"1" + b"}" * 2000])
def test_a_body_that_is_not_a_json_object_is_400_on_body(merchant, raw):
    assert violation_fields(send(merchant, raw)) == ["body"]


def test_a_body_nested_deeper_than_32_levels_is_400(merchant, shopper):
    body = created_body(user=shopper, external_id=next_external_id())
    nested = {}
    for _ in range(33):
        nested = {"x": nested}
    assert violation_fields(send(merchant, {**body, "extra": nested})) == ["body"]


def test_missing_fields_are_all_reported_together(merchant):
    assert sorted(violation_fields(send(merchant, {}))) == ["event", "external_id"]
    assert sorted(violation_fields(send(merchant, {"event": "purchase.created"}))) == [
        "amount", "currency", "external_id", "user_id"]


@pytest.mark.parametrize("field, value", [
    ("event", "purchase.deleted"),
    ("event", "PURCHASE.CREATED"),
    ("event", 1),
    ("external_id", ""),
    ("external_id", "x" * 256),
    ("external_id", 42),
    ("external_id", None),
    ("external_id", "nul\x00byte"),
    ("user_id", "not-a-uuid"),
    ("user_id", None),
    ("amount", "0.00"),
    ("amount", "1000000.01"),
    ("amount", "10.001"),
    ("amount", "1e2"),
    ("amount", "-5.00"),
    ("amount", True),
    ("amount", "NaN"),
    ("currency", "EU"),
    ("currency", "EURO"),
    ("currency", 978),
    ("purchased_at", "2026-03-05"),
    ("purchased_at", "2026-03-05T10:15:30"),  # no timezone
    ("purchased_at", 1767225600),
    ("purchased_at", None),
])
def test_field_rules_of_purchase_created_are_400_on_the_field(merchant, shopper, field, value):
    body = created_body(user=shopper, external_id=next_external_id())
    body[field] = value
    assert violation_fields(send(merchant, body)) == [field]
    assert not Purchase.objects.exists()


@pytest.mark.parametrize("field, value", [("reason", "x" * 501), ("reason", 5), ("external_id", "")])
def test_field_rules_of_status_events_are_400(merchant, shopper, field, value):
    purchase = ingest(user=shopper, merchant=merchant)
    body = status_body("reversed", purchase.external_id)
    body[field] = value
    assert violation_fields(send(merchant, body)) == [field]
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.PENDING


def test_external_id_of_255_characters_is_accepted(merchant, shopper):
    assert report(merchant, shopper, external_id="x" * 255).status_code == 201


def test_validation_400_comes_before_404(merchant):
    assert violation_fields(send(merchant, status_body("confirmed", "never-sent", reason=7))) == ["reason"]
    response = send(merchant, {"event": "purchase.confirmed", "external_id": ""})
    assert violation_fields(response) == ["external_id"]


def test_validation_400_comes_before_409(merchant, shopper):
    report(merchant, shopper, external_id="ord-30")
    assert violation_fields(report(merchant, shopper, external_id="ord-30", amount="1.001")) == ["amount"]


def test_external_id_conflict_409_comes_before_every_422(merchant, shopper):
    report(merchant, shopper, external_id="ord-31")
    merchant_services.set_merchant_active(merchant_id=merchant.pk, active=False, actor=Actor.system())
    response = send(merchant, created_body(user=UserFactory(is_active=False), external_id="ord-31", currency="USD"))
    error_of(response, 409, "EXTERNAL_ID_CONFLICT")


def test_unsupported_currency_is_the_first_422(merchant):
    merchant_services.set_merchant_active(merchant_id=merchant.pk, active=False, actor=Actor.system())
    ghost = UserFactory.build()
    response = send(merchant, {**created_body(user=ghost, external_id=next_external_id()), "currency": "USD"})
    error = error_of(response, 422, "UNSUPPORTED_CURRENCY")
    assert error["details"]["currency"] == "USD"


def test_user_not_eligible_comes_before_merchant_not_eligible(merchant):
    merchant_services.set_merchant_active(merchant_id=merchant.pk, active=False, actor=Actor.system())
    for user in [UserFactory.build(), UserFactory(is_active=False)]:
        response = send(merchant, created_body(user=user, external_id=next_external_id()))
        error = error_of(response, 422, "USER_NOT_ELIGIBLE")
        assert error["details"]["user_id"] == str(user.pk)


def test_an_inactive_merchant_cannot_report_new_purchases(merchant, shopper):
    # signature fine, the purchase refused; nothing written but the event.
    merchant_services.set_merchant_active(merchant_id=merchant.pk, active=False, actor=Actor.system())
    before = written_state()
    response = report(merchant, shopper)
    error = error_of(response, 422, "MERCHANT_NOT_ELIGIBLE")
    assert error["details"]["merchant_id"] == str(merchant.pk)
    assert written_state() == before


def test_a_merchant_without_a_live_offer_gets_offer_not_available(shopper):
    bare = MerchantFactory()
    response = report(bare, shopper)
    error = error_of(response, 422, "OFFER_NOT_AVAILABLE")
    assert error["details"]["merchant_id"] == str(bare.pk)


def test_get_and_other_methods_are_405_without_any_signature(api_client):
    for method in ["get", "put", "patch", "delete"]:
        response = getattr(api_client, method)(WEBHOOK)
        error = error_of(response, 405, "METHOD_NOT_ALLOWED")
        assert error["details"] == {"allowed": ["POST"]}


# --- the event log (R-156) -------------------------------------------------------------------------


def test_every_authenticated_request_is_logged_with_its_answer(merchant, shopper):
    before = timezone.now()
    created = report(merchant, shopper, external_id="ord-40")
    send(merchant, status_body("confirmed", "ord-40"))
    send(merchant, status_body("confirmed", "missing"))
    send(merchant, b"{broken")
    send(merchant, created_body(user=shopper, external_id="ord-41"), content_type="text/plain")
    report(merchant, shopper, external_id="ord-40", amount="1.00")
    send(merchant, created_body(user=shopper, external_id="ord-42"), secret="whsec_wrong")  # not logged

    events = list(WebhookEvent.objects.order_by("received_at", "id"))
    purchase = Purchase.objects.get(external_id="ord-40")
    assert [(e.event, e.external_id, e.response_status, e.error_code, e.purchase_id) for e in events] == [
        ("purchase.created", "ord-40", 201, None, purchase.pk),
        ("purchase.confirmed", "ord-40", 200, None, purchase.pk),
        ("purchase.confirmed", "missing", 404, "NOT_FOUND", None),
        ("", "", 400, "VALIDATION_ERROR", None),
        ("purchase.created", "ord-41", 415, "UNSUPPORTED_MEDIA_TYPE", None),
        ("purchase.created", "ord-40", 409, "EXTERNAL_ID_CONFLICT", purchase.pk),
    ]
    assert all(e.merchant_id == merchant.pk for e in events)
    assert all(before <= e.received_at <= timezone.now() for e in events)
    first = events[0]
    assert first.body == json.loads(json.dumps(created_body(user=shopper, external_id="ord-40")))
    assert created.json()["id"] == str(first.purchase_id)
    assert events[3].body == "{broken"


def test_the_request_timestamp_is_stored_as_sent(merchant, shopper):
    sent_at = int(time.time()) - 120
    send(merchant, created_body(user=shopper, external_id=next_external_id()), timestamp=sent_at)
    assert last_event().request_timestamp == dt.datetime.fromtimestamp(sent_at, tz=dt.UTC)


def test_a_failed_event_is_logged_while_its_business_change_is_rolled_back(merchant):
    ghost = UserFactory.build()
    response = send(merchant, created_body(user=ghost, external_id="ord-50"))
    error_of(response, 422, "USER_NOT_ELIGIBLE")
    assert not Purchase.objects.exists()
    event = WebhookEvent.objects.get()
    assert (event.response_status, event.error_code, event.purchase) == (422, "USER_NOT_ELIGIBLE", None)


def test_a_state_conflict_is_logged_against_the_purchase(merchant, shopper):
    purchase = reject(ingest(user=shopper, merchant=merchant))
    send(merchant, status_body("confirmed", purchase.external_id))
    event = WebhookEvent.objects.get()
    assert (event.response_status, event.error_code, event.purchase_id) == (409, "PURCHASE_STATE_CONFLICT", purchase.pk)


def test_a_crash_inside_an_event_is_logged_as_500_and_answers_the_envelope(merchant, shopper, monkeypatch):
    from purchases import webhook_services

    def explode(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(webhook_services, "report_purchase", explode)
    client = APIClient()
    client.raise_request_exception = False
    response = send(merchant, created_body(user=shopper, external_id="ord-60"), client=client)
    error_of(response, 500, "INTERNAL_SERVER_ERROR")
    event = WebhookEvent.objects.get()
    assert (event.response_status, event.error_code) == (500, "INTERNAL_SERVER_ERROR")


def test_hostile_text_in_the_body_is_still_logged(merchant):
    response = send(merchant, b'{"event": "purchase.confirmed", "external_id": "a\\u0000b", "x": NaN}')
    assert response.status_code == 400
    event = WebhookEvent.objects.get()
    assert event.external_id == "a\ufffdb"


def test_webhook_events_are_append_only(merchant, shopper):
    report(merchant, shopper)
    event = WebhookEvent.objects.get()
    event.response_status = 500
    with pytest.raises(WebhookEventAppendOnlyError):
        event.save()
    with pytest.raises(WebhookEventAppendOnlyError):
        event.delete()
    # The database refuses too (trigger), whatever the ORM path.
    for statement in ["UPDATE purchases_webhookevent SET response_status = 500",
                      "DELETE FROM purchases_webhookevent"]:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(statement)
    assert WebhookEvent.objects.get().response_status == 201


# --- back-office (admin.md) -------------------------------------------------------------------------


def test_back_office_lists_a_merchants_events_with_filters(office, merchant, shopper):
    other = live_offer().merchant
    report(merchant, shopper, external_id="ok-1")
    send(merchant, status_body("confirmed", "missing"))
    report(other, shopper, external_id="theirs")
    url = "/admin/purchases/webhookevent/"
    mine = WebhookEvent.objects.filter(merchant=merchant)

    assert set(changelist_pks(office.get(url, {"merchant__id__exact": merchant.pk}))) == set(mine.values_list("pk", flat=True))
    assert changelist_pks(office.get(url, {"merchant__id__exact": merchant.pk, "event": "purchase.created"})) == [
        mine.get(event="purchase.created").pk]
    assert changelist_pks(office.get(url, {"error_code": "NOT_FOUND"})) == [mine.get(error_code="NOT_FOUND").pk]
    assert len(changelist_pks(office.get(url, {"response_status": "201"}))) == 2
    today = timezone.now()
    dated = office.get(url, {"received_at__year": today.year, "received_at__month": today.month,
                             "received_at__day": today.day})
    assert len(changelist_pks(dated)) == 3
    # the merchant's page links to its events
    page = office.get(f"/admin/merchants/merchant/{merchant.pk}/change/")
    assert f"/admin/purchases/webhookevent/?merchant__id__exact={merchant.pk}" in page.content.decode()


def test_back_office_event_list_runs_a_fixed_number_of_queries(office, merchant, shopper):
    url = "/admin/purchases/webhookevent/"
    report(merchant, shopper)
    with CaptureQueriesContext(connection) as few:
        assert office.get(url).status_code == 200
    for _ in range(5):
        report(live_offer().merchant, shopper)
    with CaptureQueriesContext(connection) as many:
        assert office.get(url).status_code == 200
    # merchant and purchase come with the page's own query (list_select_related): no N+1.
    assert len(many.captured_queries) <= len(few.captured_queries) + 1  # + the merchant filter's choices


def test_back_office_purchase_page_shows_the_events_that_touched_it(office, merchant, shopper):
    report(merchant, shopper, external_id="ord-70")
    send(merchant, status_body("confirmed", "ord-70"))
    purchase = Purchase.objects.get()

    page = office.get(f"/admin/purchases/purchase/{purchase.pk}/change/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "webhook events" in html.lower()
    assert "purchase.created" in html and "purchase.confirmed" in html


def test_back_office_cannot_add_change_or_delete_events(office, merchant, shopper):
    report(merchant, shopper)
    event = WebhookEvent.objects.get()
    assert office.get("/admin/purchases/webhookevent/add/").status_code == 403
    assert office.post(f"/admin/purchases/webhookevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    detail = office.get(f"/admin/purchases/webhookevent/{event.pk}/change/")
    assert detail.status_code == 200
    assert WebhookEvent.objects.get().response_status == 201
