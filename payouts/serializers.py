"""Wire shapes of api.md §9 (payouts)."""

import json

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
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
        serialized = json.dumps(value, cls=DjangoJSONEncoder)
        if len(serialized.encode()) > DETAILS_MAX_BYTES:
            raise serializers.ValidationError(f"Must be at most {DETAILS_MAX_BYTES} bytes when serialized.")
        # Numbers arrive as Decimal (never float): keep them as their exact text.
        return json.loads(serialized)


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
