"""Partner merchants (R-30…R-35)."""

import uuid
from decimal import Decimal

from django.db import models
from django.db.models import Value
from django.db.models.functions import Lower


def with_name(merchants, name: str):
    """R-203: names compare as lower(name), so the unique index below serves the lookup."""
    return merchants.alias(name_lower=Lower("name")).filter(name_lower=Lower(Value(name)))


class Merchant(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255)
    default_cashback_percentage = models.DecimalField(max_digits=5, decimal_places=2)
    active = models.BooleanField(default=True)
    webhook_secret = models.CharField(max_length=80)
    previous_webhook_secret = models.CharField(max_length=80, null=True, blank=True)
    previous_webhook_secret_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = [Lower("name"), "id"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="merchant_name_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(default_cashback_percentage__gte=Decimal("0"))
                & models.Q(default_cashback_percentage__lte=Decimal("100")),
                name="merchant_default_percentage_range",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def masked_webhook_secret(self) -> str:
        """R-214: the back-office shows secrets masked except right after a rotation."""
        return f"whsec_…{self.webhook_secret[-4:]}" if self.webhook_secret else ""
