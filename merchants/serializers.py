"""Wire shapes of api.md §5 (merchants)."""

from decimal import Decimal

from django.conf import settings
from rest_framework import serializers

from clicknback.fields import MoneyField, NameField, StrictBooleanField, StrictChoiceField
from merchants.models import Merchant

STATUS_CHOICES = ["active", "inactive"]


class MerchantCreateSerializer(serializers.Serializer):
    name = NameField()
    default_cashback_percentage = MoneyField(max_digits=5, min_value=Decimal("0.00"))
    active = StrictBooleanField(required=False, default=True)

    def get_fields(self):
        fields = super().get_fields()
        # R-31, read per request; MoneyField checks it before quantizing, so a huge number is a 400, not a 500.
        fields["default_cashback_percentage"].max_value = settings.MAX_CASHBACK_PERCENTAGE
        return fields


class MerchantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Merchant
        fields = ["id", "name", "default_cashback_percentage", "active"]
        read_only_fields = fields


class StatusChangeRequestSerializer(serializers.Serializer):
    status = StrictChoiceField(choices=STATUS_CHOICES)


class StatusChangeSerializer(serializers.Serializer):
    """api.md §1 StatusChange: {"id", "status"}."""

    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=STATUS_CHOICES)
