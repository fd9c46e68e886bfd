"""Payouts (R-120…R-130) and their idempotency keys (R-140…R-146)."""

import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q


class PayoutStatus(models.TextChoices):
    REQUESTED = "requested"
    APPROVED = "approved"
    PROCESSING = "processing"
    PAID = "paid"
    FAILED = "failed"
    REJECTED = "rejected"


class PayoutMethod(models.TextChoices):
    BANK_TRANSFER = "bank_transfer"
    CARD = "card"


# Money of these payouts has left `available` but is not settled (R-110 "in flight").
IN_FLIGHT_STATUSES = [PayoutStatus.REQUESTED, PayoutStatus.APPROVED, PayoutStatus.PROCESSING]
# Payouts that count for the frequency and weekly rules.
COUNTED_STATUSES = [PayoutStatus.REQUESTED, PayoutStatus.APPROVED, PayoutStatus.PROCESSING, PayoutStatus.PAID]


class Payout(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")
    method = models.CharField(max_length=20, choices=PayoutMethod.choices, default=PayoutMethod.BANK_TRANSFER)
    details = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    status = models.CharField(max_length=12, choices=PayoutStatus.choices, default=PayoutStatus.REQUESTED)
    status_reason = models.TextField(null=True, blank=True)
    external_reference = models.CharField(max_length=255, null=True, blank=True)
    requested_at = models.DateTimeField()
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="approved_payouts")
    processing_started_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-requested_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payout_amount_positive"),
            models.CheckConstraint(condition=Q(currency="EUR"), name="payout_currency_eur"),
            models.CheckConstraint(condition=Q(status__in=PayoutStatus.values), name="payout_status_valid"),
            models.CheckConstraint(condition=Q(method__in=PayoutMethod.values), name="payout_method_valid"),
        ]
        indexes = [
            # Lists sort newest request first, ties by id: indexes in that order (issue 7).
            models.Index(fields=["user", "-requested_at", "id"], name="payout_user_newest"),
            models.Index(fields=["status", "approved_at"]),
            models.Index(fields=["-requested_at", "id"], name="payout_newest"),
        ]

    def __str__(self):
        return f"payout {str(self.pk)[:8]} {self.amount} {self.currency} ({self.status})"


class PayoutIdempotencyKey(models.Model):
    """R-145: claimed first in the request's transaction; the stored response is replayed.
    The body is kept as the exact JSON text sent, so a replay is byte-identical (R-142)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    payout = models.ForeignKey(Payout, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = "payout idempotency key"
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="payout_idempotency_user_key_unique")]

    def __str__(self):
        return self.key
