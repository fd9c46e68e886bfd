"""Wire shapes of api.md §6 (offers)."""

from collections.abc import Mapping

from rest_framework import serializers
from rest_framework.fields import SkipField

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

    def to_internal_value(self, data):
        # R-52 / api.md §0.4: every violation at once — a malformed field must not hide the term
        # rules (R-41…R-43) of the fields that did parse.
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if not isinstance(data, Mapping) or not isinstance(exc.detail, dict):
                raise
            errors = dict(exc.detail)
            parsed = self._parse_fields(data, skipping=errors)
            for problem in services.term_violations(**{name: parsed.get(name) for name in services.TERM_FIELDS}):
                errors.setdefault(problem["field"], [problem["reason"]])
            raise serializers.ValidationError(errors) from exc

    def _parse_fields(self, data, *, skipping) -> dict:
        parsed = {}
        for name, field in self.fields.items():
            if name in skipping:
                continue
            try:
                parsed[name] = field.run_validation(field.get_value(data))
            except (serializers.ValidationError, SkipField):
                pass
        return parsed

    def validate(self, data):
        # R-41…R-43 once every field parsed (R-52: every field rule is a 400, reported together).
        problems = services.term_violations(**{name: data[name] for name in services.TERM_FIELDS})
        if problems:
            raise serializers.ValidationError({v["field"]: [v["reason"]] for v in problems})
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


def active_offer_row(row: dict) -> dict:
    """ActiveOfferSerializer's output for a row of offers.selectors.live_offer_rows (pinned by a test)."""
    return {
        "id": str(row["id"]),
        "merchant_name": row["merchant__name"],
        "cashback_type": row["cashback_type"],
        "cashback_value": f"{row['cashback_value']:.2f}",
        "monthly_cap": f"{row['monthly_cap_per_user']:.2f}",
        "start_date": row["start_date"].isoformat(),
        "end_date": row["end_date"].isoformat(),
    }


class OfferDetailsSerializer(ActiveOfferSerializer):
    status = serializers.SerializerMethodField()

    class Meta(ActiveOfferSerializer.Meta):
        fields = ActiveOfferSerializer.Meta.fields + ["status"]
        read_only_fields = fields

    def get_status(self, offer) -> str:
        return _status(offer)
