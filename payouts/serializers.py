"""Wire shapes of api.md §9 (payouts)."""

import json
import math
from decimal import Decimal

from django.conf import settings
from rest_framework import serializers

from clicknback.fields import MoneyField, StrictCharField, StrictChoiceField
from payouts.models import Payout, PayoutMethod

DETAILS_MAX_BYTES = 2048
ADMIN_TARGETS = ["approved", "rejected", "processing", "paid", "failed"]


class PayoutRequestSerializer(serializers.Serializer):
    amount = MoneyField()
    method = StrictChoiceField(choices=PayoutMethod.values, required=False, default=PayoutMethod.BANK_TRANSFER)
    details = serializers.DictField(required=False, default=dict)

    def get_fields(self):
        fields = super().get_fields()
        fields["amount"].min_value = None
        fields["amount"].max_value = settings.PAYOUT_MAX_AMOUNT
        return fields

    def validate_amount(self, value):
        if value <= 0:
            raise serializers.ValidationError("Must be greater than 0.")
        return value

    def validate_details(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        details = _as_json_values(value)
        # "≤ 2 KiB serialized": the compact UTF-8 JSON text (a non-ASCII letter is 2 bytes, not a 6-byte \u escape).
        serialized = json.dumps(details, separators=(",", ":"), ensure_ascii=False)
        if len(serialized.encode()) > DETAILS_MAX_BYTES:
            raise serializers.ValidationError(f"Must be at most {DETAILS_MAX_BYTES} bytes when serialized.")
        return details


def _as_json_values(value):
    """Details are stored as given (api.md §9). JSON numbers arrive as Decimal (clicknback.parsers);
    they become JSON numbers again — not strings — with the float a stored JSON number reads back as."""
    if isinstance(value, dict):
        return {_as_json_values(key): _as_json_values(item) for key, item in value.items()}
    if isinstance(value, str):
        # PostgreSQL jsonb stores neither NUL nor a lone surrogate ("\ud800"): a 400 here, not a 500 at INSERT.
        if "\x00" in value:
            raise serializers.ValidationError("Must not contain NUL characters.")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise serializers.ValidationError("Must be valid Unicode text (no lone surrogates).") from None
        return value
    if isinstance(value, list):
        return [_as_json_values(item) for item in value]
    if isinstance(value, Decimal):
        number = float(value)
        if not math.isfinite(number):
            raise serializers.ValidationError("Numbers must be finite.")
        return number
    return value


class PayoutStatusChangeSerializer(serializers.Serializer):
    status = StrictChoiceField(choices=ADMIN_TARGETS)
    reason = StrictCharField(max_length=500, required=False, allow_blank=True, trim_whitespace=False)
    external_reference = StrictCharField(max_length=255, required=False, allow_blank=True, trim_whitespace=False)

    def validate(self, data):
        if data.get("external_reference") is not None and data["status"] != "paid":
            raise serializers.ValidationError({"external_reference": ["Only allowed with status 'paid'."]})
        return data


class PayoutSerializer(serializers.ModelSerializer):
    class Meta:
        model = Payout
        fields = ["id", "user_id", "amount", "currency", "method", "details", "status", "status_reason",
                  "external_reference", "requested_at", "approved_at", "processing_started_at", "processed_at"]
        read_only_fields = fields
