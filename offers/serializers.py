"""Wire shapes of api.md §6 (offers)."""

from rest_framework import serializers

from clicknback.errors import ValidationFailed
from clicknback.fields import MoneyField, StrictBooleanField, StrictChoiceField, StrictDateField, StrictUUIDField
from offers import services
from offers.models import CashbackType, Offer


class OfferCreateSerializer(serializers.Serializer):
    merchant_id = StrictUUIDField()
    cashback_type = StrictChoiceField(choices=CashbackType.values)
    cashback_value = MoneyField()
    start_date = StrictDateField()
    end_date = StrictDateField()
    monthly_cap = MoneyField()
    active = StrictBooleanField(required=False, default=True)

    def validate(self, data):
        # R-41…R-43 (R-52: every field rule is a 400, reported together).
        try:
            services.validate_terms(
                cashback_type=data["cashback_type"], cashback_value=data["cashback_value"],
                start_date=data["start_date"], end_date=data["end_date"], monthly_cap=data["monthly_cap"],
            )
        except ValidationFailed as exc:
            raise serializers.ValidationError({v["field"]: [v["reason"]] for v in exc.details["violations"]})
        return data


def _status(offer) -> str:
    return "active" if offer.active else "inactive"


class OfferSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()

    class Meta:
        model = Offer
        fields = ["id", "merchant_id", "cashback_type", "cashback_value", "start_date", "end_date",
                  "monthly_cap_per_user", "status"]
        read_only_fields = fields

    def get_status(self, offer) -> str:
        return _status(offer)


class ActiveOfferSerializer(serializers.ModelSerializer):
    merchant_name = serializers.CharField(source="merchant.name")
    monthly_cap = serializers.DecimalField(source="monthly_cap_per_user", max_digits=12, decimal_places=2)

    class Meta:
        model = Offer
        fields = ["id", "merchant_name", "cashback_type", "cashback_value", "monthly_cap", "start_date", "end_date"]
        read_only_fields = fields


class OfferDetailsSerializer(ActiveOfferSerializer):
    status = serializers.SerializerMethodField()

    class Meta(ActiveOfferSerializer.Meta):
        fields = ActiveOfferSerializer.Meta.fields + ["status"]
        read_only_fields = fields

    def get_status(self, offer) -> str:
        return _status(offer)
