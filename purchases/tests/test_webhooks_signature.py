"""Webhook authentication (api.md §10; R-150, R-152, R-153, R-223): the spec's test vector, header
parsing, the replay window, and over HTTP every way a signature can be wrong — each one the same
401 INVALID_SIGNATURE, logged in the application log only (R-156)."""

import datetime as dt
import io
import json
import logging
import time

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from clicknback.audit.services import Actor
from clicknback.testing import error_of
from merchants import services as merchant_services
from merchants.models import Merchant
from merchants.tests.factories import MerchantFactory
from purchases import webhooks
from purchases.models import Purchase, WebhookEvent
from purchases.tests.factories import ingest, live_offer, next_external_id
from purchases.tests.signing import WEBHOOK, created_body, encode, send, signed_headers, status_body

SPEC_SECRET = "whsec_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
SPEC_TIMESTAMP = "1767225600"
SPEC_BODY = b'{"event":"purchase.confirmed","external_id":"ord-1001"}'
SPEC_SIGNATURE = "sha256=dda396a0a1c8c2aaf5a3b11d9773465ec37315e45e546d0dd42037d678400a90"
INVALID_SIGNATURE_MESSAGE = "Missing or invalid webhook signature."


# --- pure functions ------------------------------------------------------------------------------


def test_the_test_vector_of_api_md_section_10():
    assert webhooks.sign(SPEC_SECRET, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE
    assert webhooks.sign(SPEC_SECRET, SPEC_TIMESTAMP.encode(), SPEC_BODY) == SPEC_SIGNATURE


def test_the_signature_covers_the_raw_bytes_not_the_parsed_json():
    reformatted = json.dumps(json.loads(SPEC_BODY)).encode()  # same JSON, other spacing
    assert reformatted != SPEC_BODY
    assert webhooks.sign(SPEC_SECRET, SPEC_TIMESTAMP, reformatted) != SPEC_SIGNATURE


def headers(merchant="6f1c8e36-0b7e-4a43-9a1f-8d3c0f0e6a11", timestamp=SPEC_TIMESTAMP, signature=SPEC_SIGNATURE):
    return {webhooks.MERCHANT_HEADER: merchant, webhooks.TIMESTAMP_HEADER: timestamp,
            webhooks.SIGNATURE_HEADER: signature}


def test_well_formed_headers_parse_and_hex_is_lower_cased():
    parsed = webhooks.parse_headers(headers(signature=SPEC_SIGNATURE.upper().replace("SHA256=", "sha256=")))
    assert parsed is not None
    assert parsed.timestamp == 1767225600 and parsed.timestamp_text == SPEC_TIMESTAMP
    assert parsed.signature == SPEC_SIGNATURE


@pytest.mark.parametrize("bad", [
    {webhooks.MERCHANT_HEADER: ""},
    {webhooks.MERCHANT_HEADER: "not-a-uuid"},
    {webhooks.MERCHANT_HEADER: "6f1c8e360b7e4a439a1f8d3c0f0e6a11"},  # only the hyphenated form
    {webhooks.TIMESTAMP_HEADER: ""},
    {webhooks.TIMESTAMP_HEADER: "+1767225600"},
    {webhooks.TIMESTAMP_HEADER: "-1767225600"},
    {webhooks.TIMESTAMP_HEADER: "1767225600.0"},
    {webhooks.TIMESTAMP_HEADER: " 1767225600"},
    {webhooks.TIMESTAMP_HEADER: "１７６７２２５６００"},  # full-width digits are not ASCII digits
    {webhooks.TIMESTAMP_HEADER: "9" * 5000},
    {webhooks.SIGNATURE_HEADER: ""},
    {webhooks.SIGNATURE_HEADER: SPEC_SIGNATURE.removeprefix("sha256=")},
    {webhooks.SIGNATURE_HEADER: "sha1=" + SPEC_SIGNATURE.removeprefix("sha256=")},
    {webhooks.SIGNATURE_HEADER: SPEC_SIGNATURE[:-1]},
    {webhooks.SIGNATURE_HEADER: SPEC_SIGNATURE + "0"},
    {webhooks.SIGNATURE_HEADER: SPEC_SIGNATURE[:-1] + "g"},
])
def test_missing_or_malformed_headers_do_not_parse(bad):
    assert webhooks.parse_headers({**headers(), **bad}) is None


def test_a_missing_header_does_not_parse():
    for name in headers():
        incomplete = {k: v for k, v in headers().items() if k != name}
        assert webhooks.parse_headers(incomplete) is None, name


@pytest.mark.parametrize("offset, inside", [
    (0, True), (300, True), (-300, True), (300.5, False), (-300.5, False), (301, False), (-301, False),
    (86400, False), (-86400, False),
])
def test_replay_window_is_300_seconds_in_both_directions(offset, inside):
    # refused when |server time − timestamp| > 300 s.
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    timestamp = int(now.timestamp())
    assert webhooks.within_window(timestamp, now + dt.timedelta(seconds=offset), 300) is inside


# --- over HTTP -------------------------------------------------------------------------------------



@pytest.fixture
def merchant(db):
    return live_offer().merchant


@pytest.fixture
def shopper(db):
    return UserFactory()


def assert_invalid_signature(response):
    error = error_of(response, 401, "INVALID_SIGNATURE")
    assert error["details"] == {}
    assert error["message"] == INVALID_SIGNATURE_MESSAGE  # one identical message for every cause


def test_a_correctly_signed_request_is_accepted(merchant, shopper):
    response = send(merchant, created_body(user=shopper, external_id=next_external_id()))
    assert response.status_code == 201, response.content


@pytest.mark.django_db
def test_tampered_body_is_invalid_signature_and_nothing_is_written(merchant, shopper):
    body = created_body(user=shopper, external_id=next_external_id(), amount="10.00")
    raw = encode(body)
    signed = signed_headers(merchant, raw)
    tampered = raw.replace(b'"10.00"', b'"99.00"')
    response = APIClient().post(WEBHOOK, data=tampered, content_type="application/json", headers=signed)
    assert_invalid_signature(response)
    assert not Purchase.objects.exists()
    assert not WebhookEvent.objects.exists()  # failed authentication is not stored


@pytest.mark.django_db
def test_tampered_timestamp_is_invalid_signature(merchant, shopper):
    raw = encode(created_body(user=shopper, external_id=next_external_id()))
    now = int(time.time())
    signed = signed_headers(merchant, raw, timestamp=now)
    signed["X-ClickNBack-Timestamp"] = str(now - 1)  # still inside the window, but not what was signed
    response = APIClient().post(WEBHOOK, data=raw, content_type="application/json", headers=signed)
    assert_invalid_signature(response)


@pytest.mark.django_db
def test_wrong_merchant_header_is_invalid_signature(merchant, shopper):
    other = live_offer().merchant
    response = send(merchant, created_body(user=shopper, external_id=next_external_id()),
                    headers={"X-ClickNBack-Merchant": str(other.pk)})
    assert_invalid_signature(response)
    assert not Purchase.objects.exists()


@pytest.mark.django_db
def test_signature_made_with_another_merchants_secret_is_invalid(merchant, shopper):
    other = MerchantFactory()
    response = send(merchant, created_body(user=shopper, external_id=next_external_id()),
                    secret=other.webhook_secret)
    assert_invalid_signature(response)


@pytest.mark.django_db
def test_unknown_merchant_is_the_same_invalid_signature(shopper):
    ghost = MerchantFactory.build()  # never saved
    response = send(ghost, created_body(user=shopper, external_id=next_external_id()))
    assert_invalid_signature(response)


@pytest.mark.django_db
def test_upper_case_hex_signature_is_accepted(merchant, shopper):
    raw = encode(created_body(user=shopper, external_id=next_external_id()))
    signed = signed_headers(merchant, raw)
    signed["X-ClickNBack-Signature"] = "sha256=" + signed["X-ClickNBack-Signature"].removeprefix("sha256=").upper()
    response = APIClient().post(WEBHOOK, data=raw, content_type="application/json", headers=signed)
    assert response.status_code == 201, response.content


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["X-ClickNBack-Merchant", "X-ClickNBack-Timestamp", "X-ClickNBack-Signature"])
def test_each_missing_header_is_invalid_signature(merchant, shopper, header):
    response = send(merchant, created_body(user=shopper, external_id=next_external_id()), drop=(header,))
    assert_invalid_signature(response)


@pytest.mark.django_db
@pytest.mark.parametrize("header, value", [
    ("X-ClickNBack-Merchant", "merchant-1"),
    ("X-ClickNBack-Timestamp", "yesterday"),
    ("X-ClickNBack-Signature", "deadbeef"),
])
def test_each_malformed_header_is_invalid_signature(merchant, shopper, header, value):
    response = send(merchant, created_body(user=shopper, external_id=next_external_id()), headers={header: value})
    assert_invalid_signature(response)


@pytest.mark.django_db
def test_signatures_are_checked_for_inactive_merchants_too(merchant, shopper):
    # an inactive merchant still authenticates; a bad signature is still refused.
    purchase = ingest(user=shopper, merchant=merchant)
    merchant_services.set_merchant_active(merchant_id=merchant.pk, active=False, actor=Actor.system())
    merchant.refresh_from_db()

    refused = send(merchant, status_body("confirmed", purchase.external_id), secret=MerchantFactory().webhook_secret)
    assert_invalid_signature(refused)

    accepted = send(merchant, status_body("confirmed", purchase.external_id))
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["status"] == "confirmed"


@pytest.mark.django_db
def test_authentication_failures_are_written_to_the_application_log_only(merchant, shopper, caplog):
    with caplog.at_level(logging.WARNING, logger="clicknback.webhooks"):
        send(merchant, created_body(user=shopper, external_id=next_external_id()), secret=SPEC_SECRET)
    assert any("INVALID_SIGNATURE" in record.getMessage() for record in caplog.records)
    assert not any(merchant.webhook_secret in record.getMessage() for record in caplog.records)
    assert not WebhookEvent.objects.exists()


# --- rotation and grace (R-153, R-223) -----------------------------------------------------------


def rotate(merchant) -> tuple[str, Merchant]:
    old = merchant.webhook_secret
    return old, merchant_services.rotate_webhook_secret(merchant_id=merchant.pk, actor=Actor.system())


@pytest.mark.django_db
def test_previous_secret_works_inside_the_grace_window_and_the_new_one_too(merchant, shopper):
    old, rotated = rotate(merchant)
    by_old = send(rotated, created_body(user=shopper, external_id=next_external_id()), secret=old)
    by_new = send(rotated, created_body(user=shopper, external_id=next_external_id()))
    assert (by_old.status_code, by_new.status_code) == (201, 201), (by_old.content, by_new.content)


@pytest.mark.django_db
def test_previous_secret_after_the_grace_window_is_invalid_and_is_cleared(merchant, shopper):
    old, rotated = rotate(merchant)
    Merchant.objects.filter(pk=merchant.pk).update(
        previous_webhook_secret_expires_at=timezone.now() - dt.timedelta(seconds=1))

    response = send(rotated, created_body(user=shopper, external_id=next_external_id()), secret=old)

    assert_invalid_signature(response)
    merchant.refresh_from_db()
    assert merchant.previous_webhook_secret is None  # cleared on this read
    assert merchant.previous_webhook_secret_expires_at is None
    assert send(merchant, created_body(user=shopper, external_id=next_external_id())).status_code == 201


@pytest.mark.django_db
def test_expired_previous_secret_is_refused_even_before_anything_clears_it(merchant, shopper):
    old, rotated = rotate(merchant)
    expired_at = timezone.now() - dt.timedelta(microseconds=1)
    Merchant.objects.filter(pk=merchant.pk).update(previous_webhook_secret_expires_at=expired_at)
    rotated.refresh_from_db()
    assert not webhooks.previous_secret_is_valid(rotated, timezone.now())
    assert webhooks.usable_secrets(rotated, timezone.now()) == [rotated.webhook_secret]


@pytest.mark.django_db
def test_a_second_rotation_ends_the_first_previous_secret(merchant, shopper):
    first, rotated = rotate(merchant)
    second, rotated = rotate(rotated)
    assert rotated.previous_webhook_secret == second
    response = send(rotated, created_body(user=shopper, external_id=next_external_id()), secret=first)
    assert_invalid_signature(response)


@pytest.mark.django_db
def test_reading_the_secret_with_the_command_clears_an_expired_previous_secret(merchant):
    rotate(merchant)
    Merchant.objects.filter(pk=merchant.pk).update(
        previous_webhook_secret_expires_at=timezone.now() - dt.timedelta(hours=1))
    out = io.StringIO()
    call_command("merchant_webhook_secret", str(merchant.pk), stdout=out)
    merchant.refresh_from_db()
    assert out.getvalue().strip() == merchant.webhook_secret
    assert (merchant.previous_webhook_secret, merchant.previous_webhook_secret_expires_at) == (None, None)


@pytest.mark.django_db
def test_reading_inside_the_grace_window_keeps_the_previous_secret(merchant):
    old, _ = rotate(merchant)
    call_command("merchant_webhook_secret", str(merchant.pk), stdout=io.StringIO())
    merchant.refresh_from_db()
    assert merchant.previous_webhook_secret == old
