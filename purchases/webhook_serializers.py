"""Wire shapes of the merchant webhook (api.md §10): the body, read from the raw bytes the signature
covered, and the WebhookPurchase answer."""

import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ParseError

from clicknback.errors import ValidationFailed, violation
from clicknback.fields import MoneyField, StrictCharField, StrictChoiceField, StrictUUIDField
from clicknback.parsers import StrictJSONParser
from purchases.models import Purchase, WebhookEventName

MAX_BODY_DEPTH = 32


class NoNulCharField(StrictCharField):
    """PostgreSQL text cannot hold NUL: refused as bad input rather than failing on save."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if "\x00" in value:
            raise serializers.ValidationError("Must not contain NUL characters.")
        return value


@extend_schema_field(OpenApiTypes.DATETIME)
class StrictDateTimeField(serializers.Field):
    """An ISO 8601 string with a UTC offset (`2026-03-05T10:15:30Z`); stored in UTC."""

    default_error_messages = {"invalid": "Must be an ISO 8601 datetime with a timezone, e.g. 2026-03-05T10:15:30Z."}

    def to_internal_value(self, data):
        if not isinstance(data, str) or "\x00" in data:
            self.fail("invalid")
        try:
            value = dt.datetime.fromisoformat(data)
        except ValueError:
            self.fail("invalid")
        if value.tzinfo is None:
            self.fail("invalid")
        return value.astimezone(dt.UTC)

    def to_representation(self, value):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class WebhookEnvelopeSerializer(serializers.Serializer):
    event = StrictChoiceField(choices=WebhookEventName.values)
    external_id = NoNulCharField(min_length=1, max_length=255, trim_whitespace=False)


class PurchaseCreatedSerializer(serializers.Serializer):
    """`purchase.created` (R-154): the ingestion fields of POST /purchases, without merchant_id."""

    user_id = StrictUUIDField()
    amount = MoneyField()
    currency = NoNulCharField(min_length=3, max_length=3, trim_whitespace=False)
    purchased_at = StrictDateTimeField(required=False)

    def get_fields(self):
        fields = super().get_fields()
        fields["amount"].min_value = settings.PURCHASE_MIN_AMOUNT  # R-61, as the API
        fields["amount"].max_value = settings.PURCHASE_MAX_AMOUNT
        return fields


class PurchaseStatusEventSerializer(serializers.Serializer):
    """`purchase.confirmed` / `purchase.reversed` (R-155): only the reason is read (for a reversal)."""

    reason = NoNulCharField(max_length=500, required=False, allow_blank=True, trim_whitespace=False)


class WebhookBodySerializer(PurchaseCreatedSerializer, WebhookEnvelopeSerializer, PurchaseStatusEventSerializer):
    """Only for the OpenAPI schema: every field any event may carry (the event decides which count)."""

    user_id = StrictUUIDField(required=False, help_text="purchase.created: required; ignored otherwise.")
    amount = MoneyField(required=False, help_text="purchase.created: required, 0.01–1000000.00.")
    currency = NoNulCharField(min_length=3, max_length=3, required=False,
                              help_text="purchase.created: required (EUR).")
    purchased_at = StrictDateTimeField(required=False, help_text="purchase.created: optional, for information.")
    reason = NoNulCharField(max_length=500, required=False, help_text="purchase.reversed: optional.")


@dataclass(frozen=True)
class WebhookRequest:
    event: str
    external_id: str
    user_id: UUID | None = None
    amount: Decimal | None = None
    currency: str | None = None
    purchased_at: dt.datetime | None = None
    reason: str | None = None


def body_depth(value, limit: int) -> int:
    """Nesting depth of arrays/objects, counting no further than limit + 1."""
    stack, deepest = [(value, 1)], 0
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def parse_body(raw: bytes) -> dict:
    """The body as a JSON object, numbers as Decimal (R-207); anything else is 400 on `body`."""
    try:
        data = StrictJSONParser().parse(io.BytesIO(raw))
    except ParseError as exc:
        raise ValidationFailed([violation("body", str(exc.detail))], "Request body is not valid JSON.")
    except RecursionError:
        data = None
    if data is None or body_depth(data, MAX_BODY_DEPTH) > MAX_BODY_DEPTH:
        raise ValidationFailed([violation("body", f"Must not be nested deeper than {MAX_BODY_DEPTH} levels.")])
    return data


def read_webhook_request(raw: bytes) -> WebhookRequest:
    """Parse and validate a body: the common fields, then those of its event; all violations at once."""
    data = parse_body(raw)
    envelope = WebhookEnvelopeSerializer(data=data)
    violations = [] if envelope.is_valid() else ValidationFailed.from_serializer(envelope)
    event = data.get("event") if isinstance(data.get("event"), str) else None
    event_fields = None
    if event == WebhookEventName.PURCHASE_CREATED:
        event_fields = PurchaseCreatedSerializer(data=data)
    elif event in (WebhookEventName.PURCHASE_CONFIRMED, WebhookEventName.PURCHASE_REVERSED):
        event_fields = PurchaseStatusEventSerializer(data=data)
    if event_fields is not None and not event_fields.is_valid():
        violations += ValidationFailed.from_serializer(event_fields)
    if violations:
        raise ValidationFailed(violations)
    values = {**envelope.validated_data, **event_fields.validated_data}
    if event != WebhookEventName.PURCHASE_REVERSED:
        values.pop("reason", None)  # read for reversals only
    return WebhookRequest(**values)


class WebhookPurchaseSerializer(serializers.ModelSerializer):
    """**WebhookPurchase** of api.md §1."""

    class Meta:
        model = Purchase
        fields = ["id", "external_id", "merchant_id", "user_id", "amount", "currency", "status", "cashback_amount",
                  "created_at", "updated_at"]
        read_only_fields = fields
