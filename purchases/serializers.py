"""Wire shapes of api.md §7 (purchases)."""

from django.conf import settings
from rest_framework import serializers

from clicknback.fields import MoneyField, StrictCharField, StrictUUIDField
from purchases.models import Purchase


class IngestionSerializer(serializers.Serializer):
    external_id = StrictCharField(min_length=1, max_length=255, trim_whitespace=False)
    user_id = StrictUUIDField()
    merchant_id = StrictUUIDField()
    amount = MoneyField()
    currency = StrictCharField(min_length=3, max_length=3, trim_whitespace=False)

    def get_fields(self):
        fields = super().get_fields()
        # 0.01 ≤ amount ≤ PURCHASE_MAX_AMOUNT, read per request.
        fields["amount"].min_value = settings.PURCHASE_MIN_AMOUNT
        fields["amount"].max_value = settings.PURCHASE_MAX_AMOUNT
        return fields


class ReverseSerializer(serializers.Serializer):
    reason = StrictCharField(max_length=500, required=False, allow_blank=True, trim_whitespace=False)


class PurchaseResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = Purchase
        fields = ["id", "status", "cashback_amount"]
        read_only_fields = fields


class PurchaseAdminItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = Purchase
        fields = ["id", "external_id", "user_id", "merchant_id", "offer_id", "amount", "currency", "status",
                  "cashback_amount", "created_at"]
        read_only_fields = fields


class PurchaseUserItemSerializer(serializers.ModelSerializer):
    merchant_name = serializers.CharField(source="merchant.name")
    cashback_status = serializers.SerializerMethodField()

    class Meta:
        model = Purchase
        fields = ["id", "merchant_name", "amount", "status", "cashback_amount", "cashback_status", "created_at"]
        read_only_fields = fields

    def get_cashback_status(self, purchase) -> str | None:
        cashback = getattr(purchase, "cashback_transaction", None)
        return cashback.status if cashback is not None else None


class PurchaseDetailsSerializer(PurchaseUserItemSerializer):
    class Meta(PurchaseUserItemSerializer.Meta):
        fields = PurchaseUserItemSerializer.Meta.fields + [
            "external_id", "user_id", "merchant_id", "offer_id", "currency", "updated_at",
        ]
        read_only_fields = fields
