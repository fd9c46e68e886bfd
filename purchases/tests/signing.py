"""Signed webhook requests for the tests (api.md §10): a body signed like a merchant signs it, sent
through the real URLconf with APIClient."""

import json
import time

from rest_framework.test import APIClient

from purchases.webhooks import sign

WEBHOOK = "/api/v1/webhooks/purchases"


def created_body(*, user, external_id: str, amount="100.00", currency="EUR", **extra) -> dict:
    return {"event": "purchase.created", "external_id": external_id, "user_id": str(user.pk), "amount": amount,
            "currency": currency, **extra}


def status_body(event: str, external_id: str, **extra) -> dict:
    return {"event": f"purchase.{event}", "external_id": external_id, **extra}


def encode(body) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


def signed_headers(merchant, raw: bytes, *, secret: str | None = None, timestamp=None) -> dict:
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "X-ClickNBack-Merchant": str(merchant.pk),
        "X-ClickNBack-Timestamp": timestamp,
        "X-ClickNBack-Signature": sign(secret or merchant.webhook_secret, timestamp, raw),
    }


def send(merchant, body, *, secret: str | None = None, timestamp=None, headers: dict | None = None,
         drop: tuple = (), content_type: str = "application/json", client=None, path: str = WEBHOOK):
    """POST `body` (a dict, or raw bytes sent as they are) signed with the merchant's current secret
    (or `secret`) at `timestamp` (default now). `headers` overrides or adds headers after signing;
    `drop` removes some."""
    raw = encode(body)
    final = {**signed_headers(merchant, raw, secret=secret, timestamp=timestamp), **(headers or {})}
    for name in drop:
        final.pop(name)
    # generic(): the body goes out byte for byte, and an empty content type stays empty.
    return (client or APIClient()).generic("POST", path, raw, content_type=content_type, headers=final)
