"""Wire shapes of api.md §8 (wallets)."""

from rest_framework import serializers

from wallets.models import CashbackTransaction


class WalletSummarySerializer(serializers.Serializer):
    pending_balance = serializers.DecimalField(max_digits=12, decimal_places=2)
    available_balance = serializers.DecimalField(max_digits=12, decimal_places=2)
    paid_balance = serializers.DecimalField(max_digits=12, decimal_places=2)
    clawback_balance = serializers.DecimalField(max_digits=12, decimal_places=2)


class WalletTransactionSerializer(serializers.ModelSerializer):
    type = serializers.SerializerMethodField()
    related_purchase_id = serializers.UUIDField(source="purchase_id")

    class Meta:
        model = CashbackTransaction
        fields = ["id", "type", "amount", "status", "related_purchase_id", "created_at"]
        read_only_fields = fields

    def get_type(self, cashback) -> str:
        return "cashback_credit"
