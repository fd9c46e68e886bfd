"""Wire shapes of api.md §3–§4 (auth and users)."""

from rest_framework import serializers

from accounts import policies
from accounts.models import User
from clicknback.fields import StrictCharField


class EmailField(StrictCharField):
    """R-10/R-208: trimmed, ≤ 254 characters, valid syntax, ASCII only."""

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        email = super().to_internal_value(data)
        problem = policies.email_problem(email)
        if problem:
            raise serializers.ValidationError(problem)
        return email


class RegistrationSerializer(serializers.Serializer):
    email = EmailField()
    password = StrictCharField(trim_whitespace=False, max_length=policies.PASSWORD_MAX_LENGTH)


class LoginSerializer(serializers.Serializer):
    email = EmailField()
    password = StrictCharField(trim_whitespace=False)


class RefreshSerializer(serializers.Serializer):
    refresh_token = StrictCharField(trim_whitespace=False)


class TokenPairSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    token_type = serializers.CharField(default="bearer")


class UserSerializer(serializers.ModelSerializer):
    active = serializers.BooleanField(source="is_active")

    class Meta:
        model = User
        fields = ["id", "email", "active", "role", "created_at"]
        read_only_fields = fields
