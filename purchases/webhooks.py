"""Authentication of the merchant webhook (api.md §10; R-150, R-152, R-153, R-223).

`sign` is how a merchant signs a request; `authenticate` is how the server checks one: the three
headers, HMAC-SHA256 over `timestamp + "." + raw body` with the current secret or the previous one
inside its grace window (constant-time comparison), then the replay window. Every failure of the
first step is the same `INVALID_SIGNATURE`; the reason is only written to the application log."""

import datetime as dt
import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from uuid import UUID

from django.conf import settings

from clicknback.fields import parse_uuid
from merchants import services as merchant_services
from merchants.models import Merchant
from purchases.exceptions import InvalidSignature, TimestampOutOfWindow

logger = logging.getLogger("clicknback.webhooks")

MERCHANT_HEADER = "X-ClickNBack-Merchant"
TIMESTAMP_HEADER = "X-ClickNBack-Timestamp"
SIGNATURE_HEADER = "X-ClickNBack-Signature"
SIGNATURE_PREFIX = "sha256="

# Unix seconds, ASCII digits only; 12 digits is far beyond any real clock and keeps int() cheap.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"sha256=[0-9a-f]{64}")
# Signs requests for unknown merchants too, so they cost the same time as known ones.
_UNKNOWN_MERCHANT_SECRET = "whsec_" + "0" * 64


def sign(secret: str, timestamp: str | bytes, body: bytes) -> str:
    """The `X-ClickNBack-Signature` value: `sha256=` + hex(HMAC-SHA256(secret, timestamp + "." + body))."""
    timestamp_bytes = timestamp.encode("ascii") if isinstance(timestamp, str) else timestamp
    digest = hmac.new(secret.encode("utf-8"), timestamp_bytes + b"." + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


@dataclass(frozen=True)
class SignedHeaders:
    merchant_id: UUID
    timestamp_text: str  # signed exactly as sent
    timestamp: int
    signature: str  # lower-cased: hex digits compare case-insensitively


def parse_headers(headers) -> SignedHeaders | None:
    """The three signature headers, or None when one is missing or malformed."""
    merchant_id = parse_uuid(headers.get(MERCHANT_HEADER, ""))
    timestamp_text = headers.get(TIMESTAMP_HEADER, "")
    signature = headers.get(SIGNATURE_HEADER, "").lower()
    if merchant_id is None or not _TIMESTAMP.fullmatch(timestamp_text) or not _SIGNATURE.fullmatch(signature):
        return None
    return SignedHeaders(merchant_id, timestamp_text, int(timestamp_text), signature)


def previous_secret_is_valid(merchant: Merchant, now: dt.datetime) -> bool:
    """R-153/R-223: the previous secret works only until its grace period ends."""
    expires_at = merchant.previous_webhook_secret_expires_at
    return bool(merchant.previous_webhook_secret) and expires_at is not None and now < expires_at


def usable_secrets(merchant: Merchant, now: dt.datetime) -> list[str]:
    secrets = [merchant.webhook_secret]
    if previous_secret_is_valid(merchant, now):
        secrets.append(merchant.previous_webhook_secret)
    return secrets


def signature_matches(secrets: list[str], signed: SignedHeaders, body: bytes) -> bool:
    """Constant-time comparison with every usable secret (no early exit between them)."""
    provided = signed.signature.encode("ascii")
    matches = [hmac.compare_digest(sign(secret, signed.timestamp_text, body).encode("ascii"), provided)
               for secret in secrets]
    return any(matches)


def within_window(timestamp: int, now: dt.datetime, tolerance_seconds: int) -> bool:
    """R-152: |server time − timestamp| ≤ tolerance, in both directions."""
    return abs(now.timestamp() - timestamp) <= tolerance_seconds


def _refuse(reason: str, headers) -> InvalidSignature:
    # requests failing authentication are only counted in the application log.
    logger.warning("Webhook refused (INVALID_SIGNATURE): %s; merchant header %r", reason,
                   headers.get(MERCHANT_HEADER, "")[:64])
    return InvalidSignature()


def authenticate(headers, body: bytes, *, now: dt.datetime) -> tuple[Merchant, dt.datetime]:
    """The signing merchant (active or not, R-33) and the request's timestamp as a datetime.

    Raises INVALID_SIGNATURE (headers, merchant, signature), then TIMESTAMP_OUT_OF_WINDOW."""
    signed = parse_headers(headers)
    if signed is None:
        raise _refuse("a signature header is missing or malformed", headers)
    merchant = Merchant.objects.filter(pk=signed.merchant_id).first()
    if merchant is None:
        signature_matches([_UNKNOWN_MERCHANT_SECRET], signed, body)
        raise _refuse("unknown merchant", headers)
    if merchant.previous_webhook_secret and not previous_secret_is_valid(merchant, now):
        merchant_services.forget_expired_webhook_secret(merchant_id=merchant.pk, now=now)
    if not signature_matches(usable_secrets(merchant, now), signed, body):
        raise _refuse("signature matches no valid secret", headers)
    tolerance = settings.WEBHOOK_TOLERANCE_SECONDS
    if not within_window(signed.timestamp, now, tolerance):
        logger.warning("Webhook refused (TIMESTAMP_OUT_OF_WINDOW): merchant %s, timestamp %s", merchant.pk,
                       signed.timestamp)
        raise TimestampOutOfWindow(tolerance)
    return merchant, dt.datetime.fromtimestamp(signed.timestamp, tz=dt.UTC)
