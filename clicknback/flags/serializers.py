"""Wire shapes of api.md §11 (feature flags)."""

from rest_framework import serializers

from clicknback.fields import StrictBooleanField, StrictCharField, StrictChoiceField, StrictUUIDField
from clicknback.flags.models import FeatureFlag, ScopeType
from clicknback.flags.services import DESCRIPTION_MAX_LENGTH


class FlagSetSerializer(serializers.Serializer):
    """PUT body. A non-global scope without scope_id is not a 400 but the 422 of R-163 (the service's)."""

    enabled = StrictBooleanField()
    scope_type = StrictChoiceField(choices=ScopeType.values, required=False, default=ScopeType.GLOBAL)
    scope_id = StrictUUIDField(required=False, allow_null=True, default=None)
    description = StrictCharField(required=False, allow_null=True, allow_blank=True,
                                  max_length=DESCRIPTION_MAX_LENGTH)

    def validate(self, data):
        # Decision of api.md §11: a scope id sent with global is refused, never stored or dropped.
        if data["scope_type"] == ScopeType.GLOBAL and data["scope_id"] is not None:
            raise serializers.ValidationError({"scope_id": ["Must be absent or null when scope_type is global."]})
        return data


class FeatureFlagSerializer(serializers.ModelSerializer):
    class Meta:
        model = FeatureFlag
        fields = ["id", "key", "enabled", "scope_type", "scope_id", "description", "created_at", "updated_at"]
        read_only_fields = fields


class FlagEvaluationSerializer(serializers.Serializer):
    """api.md §11 evaluate: {"key", "enabled"} resolved by R-160."""

    key = serializers.CharField()
    enabled = serializers.BooleanField()
