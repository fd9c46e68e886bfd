"""Write use cases of the merchant webhook (R-151, R-154…R-157): its events run the very services of
the API and the back-office (ingestion, confirm, reverse) with a `merchant` actor, idempotently, and
every authenticated request is written to the WebhookEvent log in a transaction of its own."""

import contextlib
import json
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from clicknback.audit.services import Actor
from clicknback.errors import DomainError
from merchants.models import Merchant
from purchases import services
from purchases.exceptions import (
    DuplicatePurchase,
    ExternalIdConflict,
    PurchaseStateConflict,
    WebhookPurchaseNotFound,
    WebhookUnsupportedMediaType,
)
from purchases.models import Purchase, PurchaseSource, PurchaseStatus, WebhookEvent, WebhookEventName
from purchases.webhook_serializers import MAX_BODY_DEPTH, WebhookRequest, body_depth

logger = logging.getLogger("clicknback.webhooks")


@dataclass(frozen=True)
class WebhookOutcome:
    purchase: Purchase
    created: bool = False  # 201 instead of 200

    @property
    def status_code(self) -> int:
        return 201 if self.created else 200


def is_identical_replay(purchase: Purchase, *, user_id, amount: Decimal, currency: str) -> bool:
    """R-151: same user, numerically equal amount, same currency ignoring case; nothing else counts."""
    return purchase.user_id == user_id and purchase.amount == amount and purchase.currency.upper() == currency.upper()


def report_purchase(*, merchant: Merchant, request: WebhookRequest) -> WebhookOutcome:
    """`purchase.created` (R-154): the ingestion of POST /purchases for the header's merchant; an
    identical replay answers the stored purchase whatever its status (R-151, R-201)."""
    try:
        purchase = services.ingest_purchase(
            user_id=request.user_id, merchant_id=merchant.pk, external_id=request.external_id,
            amount=request.amount, currency=request.currency, actor=Actor.of_merchant(merchant),
            source=PurchaseSource.WEBHOOK, purchased_at=request.purchased_at,
        )
    except DuplicatePurchase as duplicate:
        stored = duplicate.purchase
        if not is_identical_replay(stored, user_id=request.user_id, amount=request.amount,
                                   currency=request.currency):
            raise ExternalIdConflict(stored)
        return WebhookOutcome(stored)
    return WebhookOutcome(purchase, created=True)


def settle_purchase(*, merchant: Merchant, request: WebhookRequest) -> WebhookOutcome:
    """`purchase.confirmed` / `purchase.reversed` (R-155): the admin's confirm/reverse services, made
    idempotent. The purchase row is locked first (R-6, R-96), so the status read here is the one the
    transition sees; a status already at the target is a no-op."""
    actor = Actor.of_merchant(merchant)
    with transaction.atomic():
        purchase = (Purchase.objects.select_for_update()
                    .filter(merchant=merchant, external_id=request.external_id).first())
        if purchase is None:
            raise WebhookPurchaseNotFound(request.external_id)
        if request.event == WebhookEventName.PURCHASE_CONFIRMED:
            if purchase.status == PurchaseStatus.CONFIRMED:
                return WebhookOutcome(purchase)
            if purchase.status != PurchaseStatus.PENDING:
                raise PurchaseStateConflict(purchase, PurchaseStatus.CONFIRMED)
            return WebhookOutcome(services.confirm_purchase(purchase_id=purchase.pk, actor=actor))
        if purchase.status == PurchaseStatus.REVERSED:
            return WebhookOutcome(purchase)
        if purchase.status == PurchaseStatus.REJECTED:
            raise PurchaseStateConflict(purchase, PurchaseStatus.REVERSED)
        return WebhookOutcome(services.reverse_purchase(purchase_id=purchase.pk, reason=request.reason or None,
                                                        actor=actor))


def apply_event(*, merchant: Merchant, request: WebhookRequest) -> WebhookOutcome:
    if request.event == WebhookEventName.PURCHASE_CREATED:
        return report_purchase(merchant=merchant, request=request)
    return settle_purchase(merchant=merchant, request=request)


def require_json_content_type(content_type: str) -> None:
    """R-206: `application/json`, optionally with charset utf-8 (the body is read as UTF-8)."""
    media_type, *params = [part.strip().lower() for part in (content_type or "").split(";")]
    charsets = [p.split("=", 1)[1].strip().strip('"') for p in params if p.startswith("charset=")]
    if media_type != "application/json" or any(c not in ("utf-8", "utf8") for c in charsets):
        raise WebhookUnsupportedMediaType()


# --- the event log (R-156) ----------------------------------------------------------------------


def _without_nul(value):
    """jsonb cannot store U+0000: replaced, so a hostile body is still logged."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    return value


def body_for_log(raw: bytes):
    """The body as JSON (decimals kept as their text) or, when it is not JSON, as its text."""
    text = raw.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text, parse_float=Decimal, parse_constant=lambda name: name)
    except (ValueError, RecursionError):
        return _without_nul(text)
    if body_depth(parsed, MAX_BODY_DEPTH) > MAX_BODY_DEPTH:
        return _without_nul(text)  # kept as text rather than walked
    return _without_nul(parsed)


def _text_field(body, key: str, max_length: int) -> str:
    value = body.get(key) if isinstance(body, dict) else None
    return value[:max_length] if isinstance(value, str) else ""


def record_event(*, merchant: Merchant, request_timestamp, raw_body: bytes, response_status: int,
                 error_code: str | None = None, purchase: Purchase | None = None) -> WebhookEvent:
    """One WebhookEvent row, committed in its own transaction (never inside the business change)."""
    body = body_for_log(raw_body)
    with transaction.atomic():
        return WebhookEvent.objects.create(
            merchant=merchant, event=_text_field(body, "event", 64),
            external_id=_text_field(body, "external_id", 255), request_timestamp=request_timestamp,
            response_status=response_status, error_code=error_code, purchase=purchase, body=body,
        )


class EventLog:
    """What the request ended with; set by the caller on success, by `logged_event` on failure."""

    def __init__(self):
        self.outcome: WebhookOutcome | None = None

    def succeeded(self, outcome: WebhookOutcome) -> None:
        self.outcome = outcome


@contextlib.contextmanager
def logged_event(*, merchant: Merchant, request_timestamp, raw_body: bytes):
    """Wraps everything after authentication: whatever happens inside (415, 400, a domain error, a
    crash), a WebhookEvent is written afterwards with the answer's status and code, then the error
    goes on to the exception handler unchanged."""
    log = EventLog()
    record = dict(merchant=merchant, request_timestamp=request_timestamp, raw_body=raw_body)
    try:
        yield log
    except DomainError as exc:
        record_event(**record, response_status=exc.status, error_code=exc.code,
                     purchase=getattr(exc, "purchase", None))
        raise
    except Exception:
        try:
            record_event(**record, response_status=500, error_code="INTERNAL_SERVER_ERROR")
        except Exception as logging_error:  # the database itself may be what failed (R-225: no traceback twice)
            logger.warning("Webhook event of merchant %s could not be logged: %s", merchant.pk,
                           type(logging_error).__name__)
        raise
    if log.outcome is not None:
        record_event(**record, response_status=log.outcome.status_code, purchase=log.outcome.purchase)
