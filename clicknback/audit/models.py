"""The append-only audit trail of R-190…R-193."""

import uuid

from django.db import models


class ActorType(models.TextChoices):
    USER = "user"
    ADMIN = "admin"
    SYSTEM = "system"
    MERCHANT = "merchant"


class Outcome(models.TextChoices):
    SUCCESS = "success"
    FAILURE = "failure"


class AuditAction(models.TextChoices):
    USER_REGISTERED = "USER_REGISTERED"
    USER_UPDATED = "USER_UPDATED"
    USER_ACTIVATED = "USER_ACTIVATED"
    USER_DEACTIVATED = "USER_DEACTIVATED"
    USER_ROLE_CHANGED = "USER_ROLE_CHANGED"
    MERCHANT_CREATED = "MERCHANT_CREATED"
    MERCHANT_UPDATED = "MERCHANT_UPDATED"
    MERCHANT_ACTIVATED = "MERCHANT_ACTIVATED"
    MERCHANT_DEACTIVATED = "MERCHANT_DEACTIVATED"
    MERCHANT_WEBHOOK_SECRET_ROTATED = "MERCHANT_WEBHOOK_SECRET_ROTATED"
    OFFER_CREATED = "OFFER_CREATED"
    OFFER_ACTIVATED = "OFFER_ACTIVATED"
    OFFER_DEACTIVATED = "OFFER_DEACTIVATED"
    PURCHASE_INGESTED = "PURCHASE_INGESTED"
    PURCHASE_CONFIRMED = "PURCHASE_CONFIRMED"
    PURCHASE_REJECTED = "PURCHASE_REJECTED"
    PURCHASE_REVERSED = "PURCHASE_REVERSED"
    PAYOUT_REQUESTED = "PAYOUT_REQUESTED"
    PAYOUT_APPROVED = "PAYOUT_APPROVED"
    PAYOUT_PROCESSING = "PAYOUT_PROCESSING"
    PAYOUT_PAID = "PAYOUT_PAID"
    PAYOUT_FAILED = "PAYOUT_FAILED"
    PAYOUT_REJECTED = "PAYOUT_REJECTED"
    FEATURE_FLAG_SET = "FEATURE_FLAG_SET"
    FEATURE_FLAG_DELETED = "FEATURE_FLAG_DELETED"


class AppendOnlyError(Exception):
    pass


class AuditLog(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor_type = models.CharField(max_length=10, choices=ActorType.choices)
    actor_id = models.UUIDField(null=True, blank=True)
    action = models.CharField(max_length=64, choices=AuditAction.choices)
    resource_type = models.CharField(max_length=32)
    resource_id = models.CharField(max_length=64)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at", "id"]
        indexes = [models.Index(fields=["resource_type", "resource_id"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(actor_type__in=ActorType.values), name="audit_actor_type_valid"
            ),
            models.CheckConstraint(condition=models.Q(outcome__in=Outcome.values), name="audit_outcome_valid"),
        ]

    def __str__(self):
        return f"{self.action} {self.resource_type}:{self.resource_id} ({self.outcome})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Audit rows are append-only (R-190).")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit rows are append-only (R-190).")
