"""Cashback offers of merchants (R-40…R-52)."""

import uuid

from django.db import models
from django.db.models import F, Q


class CashbackType(models.TextChoices):
    PERCENT = "percent"
    FIXED = "fixed"


class Offer(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="offers")
    cashback_type = models.CharField(max_length=10, choices=CashbackType.choices)
    cashback_value = models.DecimalField(max_digits=12, decimal_places=2)
    start_date = models.DateField()
    end_date = models.DateField()
    monthly_cap_per_user = models.DecimalField(max_digits=12, decimal_places=2)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            # at most one active offer per merchant, whatever the dates.
            models.UniqueConstraint(fields=["merchant"], condition=Q(active=True), name="offer_one_active_per_merchant"),
            models.CheckConstraint(condition=Q(cashback_type__in=CashbackType.values), name="offer_type_valid"),
            models.CheckConstraint(condition=Q(cashback_value__gt=0), name="offer_value_positive"),
            models.CheckConstraint(condition=Q(monthly_cap_per_user__gt=0), name="offer_cap_positive"),
            models.CheckConstraint(condition=Q(end_date__gte=F("start_date")), name="offer_window_ordered"),
        ]
        indexes = [models.Index(fields=["merchant", "active"])]

    def __str__(self):
        unit = "%" if self.cashback_type == CashbackType.PERCENT else " EUR"
        return f"{self.merchant.name}: {self.cashback_value}{unit} ({self.start_date}…{self.end_date})"

    def is_live_on(self, day) -> bool:
        """R-50: offer active, merchant active, day inside the inclusive window."""
        return self.active and self.merchant.active and self.start_date <= day <= self.end_date
