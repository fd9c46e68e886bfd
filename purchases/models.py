"""Purchases and their state machine (R-60…R-71, R-90…R-96); the merchant webhook's event log (R-156)."""

import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone


class PurchaseStatus(models.TextChoices):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    REVERSED = "reversed"


class PurchaseSource(models.TextChoices):
    API = "api"
    WEBHOOK = "webhook"


class Purchase(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    external_id = models.CharField(max_length=255)
    # No single-column indexes: purchase_user_newest and purchase_merchant_newest (Meta) lead with them.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="purchases",
                             db_index=False)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="purchases",
                                 db_index=False)
    offer = models.ForeignKey("offers.Offer", on_delete=models.PROTECT, null=True, blank=True, related_name="purchases")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    cashback_amount = models.DecimalField(max_digits=12, decimal_places=2)
    status = models.CharField(max_length=10, choices=PurchaseStatus.choices, default=PurchaseStatus.PENDING)
    source = models.CharField(max_length=10, choices=PurchaseSource.choices, default=PurchaseSource.API)
    purchased_at = models.DateTimeField(null=True, blank=True)
    status_reason = models.TextField(null=True, blank=True)
    verification_attempts = models.PositiveIntegerField(default=0)
    next_verification_at = models.DateTimeField(null=True, blank=True)
    last_verification_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    rejected_at = models.DateTimeField(null=True, blank=True)
    reversed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            # the idempotency key of a purchase.
            models.UniqueConstraint(fields=["merchant", "external_id"], name="purchase_merchant_external_id_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="purchase_amount_positive"),
            models.CheckConstraint(condition=Q(cashback_amount__gte=0), name="purchase_cashback_non_negative"),
            models.CheckConstraint(condition=Q(status__in=PurchaseStatus.values), name="purchase_status_valid"),
            models.CheckConstraint(condition=Q(source__in=PurchaseSource.values), name="purchase_source_valid"),
        ]
        # The lists sort newest first, ties by id (api.md §7): one index per filter in exactly that
        # order, so a page is an index range and its exact COUNT an index-only scan (issue 7).
        # `status` is included so that a second filter on it stays index-only too.
        indexes = [
            models.Index(fields=["-created_at", "id"], name="purchase_newest"),
            models.Index(fields=["user", "-created_at", "id"], include=["status"], name="purchase_user_newest"),
            models.Index(fields=["merchant", "-created_at", "id"], include=["status"],
                         name="purchase_merchant_newest"),
            models.Index(fields=["status", "-created_at", "id"], name="purchase_status_newest"),
            models.Index(fields=["status", "next_verification_at"]),
            models.Index(fields=["user", "offer", "created_at"]),
        ]

    def __str__(self):
        return f"{self.external_id} ({self.status})"


class WebhookEventName(models.TextChoices):
    PURCHASE_CREATED = "purchase.created"
    PURCHASE_CONFIRMED = "purchase.confirmed"
    PURCHASE_REVERSED = "purchase.reversed"


class WebhookEventAppendOnlyError(Exception):
    pass


class WebhookEvent(models.Model):
    """R-156: one row per webhook request that passed the signature and timestamp checks, whatever
    its answer; written in its own transaction, never changed or deleted afterwards."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="webhook_events")
    # What the body said, as far as it could be read ("" when the body was not JSON or lacked it).
    event = models.CharField(max_length=64, blank=True)
    external_id = models.CharField(max_length=255, blank=True)
    request_timestamp = models.DateTimeField()  # X-ClickNBack-Timestamp
    received_at = models.DateTimeField(default=timezone.now)
    response_status = models.PositiveSmallIntegerField()
    error_code = models.CharField(max_length=64, null=True, blank=True)
    purchase = models.ForeignKey(Purchase, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="webhook_events")
    # The parsed body (decimals as their text); a body that is not JSON is kept as its text.
    body = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        ordering = ["-received_at", "id"]
        indexes = [
            models.Index(fields=["merchant", "received_at"]),
            models.Index(fields=["purchase", "received_at"]),
            models.Index(fields=["merchant", "external_id"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(response_status__gte=100) & Q(response_status__lte=599),
                                   name="webhook_event_response_status_valid"),
        ]

    def __str__(self):
        return f"{self.event or '?'} {self.external_id or '?'} → {self.response_status}"

    @property
    def succeeded(self) -> bool:
        return self.response_status < 400

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise WebhookEventAppendOnlyError("Webhook events are append-only (R-156).")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise WebhookEventAppendOnlyError("Webhook events are append-only (R-156).")
