"""Wallets, their append-only ledger and the cashback transactions (R-100…R-119)."""

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from clicknback.audit.models import ActorType

ZERO = Decimal("0.00")


class BalanceName(models.TextChoices):
    PENDING = "pending"
    AVAILABLE = "available"
    PAID = "paid"
    CLAWBACK = "clawback"


class LedgerReason(models.TextChoices):
    """R-111: why a balance moved."""

    CASHBACK_EARNED = "cashback_earned"
    CASHBACK_CONFIRMED = "cashback_confirmed"
    CASHBACK_REJECTED = "cashback_rejected"
    CASHBACK_REVERSED = "cashback_reversed"
    CLAWBACK_SETTLED = "clawback_settled"
    CLAWBACK_RECORDED = "clawback_recorded"
    PAYOUT_REQUESTED = "payout_requested"
    PAYOUT_PAID = "payout_paid"
    PAYOUT_RETURNED = "payout_returned"


class CashbackStatus(models.TextChoices):
    PENDING = "pending"
    AVAILABLE = "available"
    REVERSED = "reversed"


class AppendOnlyError(Exception):
    pass


def _money(**kwargs):
    return models.DecimalField(max_digits=12, decimal_places=2, **kwargs)


class Wallet(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, primary_key=True,
                                related_name="wallet")
    pending_balance = _money(default=ZERO)
    available_balance = _money(default=ZERO)
    paid_balance = _money(default=ZERO)
    clawback_balance = _money(default=ZERO)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # no balance is ever negative.
            models.CheckConstraint(condition=Q(pending_balance__gte=0), name="wallet_pending_non_negative"),
            models.CheckConstraint(condition=Q(available_balance__gte=0), name="wallet_available_non_negative"),
            models.CheckConstraint(condition=Q(paid_balance__gte=0), name="wallet_paid_non_negative"),
            models.CheckConstraint(condition=Q(clawback_balance__gte=0), name="wallet_clawback_non_negative"),
        ]

    def __str__(self):
        return f"wallet of {self.user_id}"

    def balance(self, name: str) -> Decimal:
        return getattr(self, f"{name}_balance")


class LedgerEntry(models.Model):
    """One signed change to one balance (R-112). Never updated or deleted: save() on an existing
    row and delete() raise, and a PostgreSQL trigger rejects UPDATE/DELETE."""

    id = models.BigAutoField(primary_key=True)
    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="ledger_entries")
    operation_id = models.UUIDField(db_index=True)
    balance = models.CharField(max_length=10, choices=BalanceName.choices)
    amount = _money()
    balance_after = _money()
    reason = models.CharField(max_length=32, choices=LedgerReason.choices)
    purchase = models.ForeignKey("purchases.Purchase", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="ledger_entries")
    payout = models.ForeignKey("payouts.Payout", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="ledger_entries")
    actor_type = models.CharField(max_length=10, choices=ActorType.choices)
    actor_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_amount_non_zero"),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="ledger_balance_after_non_negative"),
            models.CheckConstraint(condition=Q(balance__in=BalanceName.values), name="ledger_balance_valid"),
            models.CheckConstraint(condition=Q(reason__in=LedgerReason.values), name="ledger_reason_valid"),
            models.CheckConstraint(condition=Q(actor_type__in=ActorType.values), name="ledger_actor_type_valid"),
        ]
        indexes = [
            models.Index(fields=["wallet", "balance", "id"]),
            # The dashboard's charts read the last 30 days of the ledger only.
            models.Index(fields=["created_at"], name="ledger_created_at_idx"),
        ]

    def __str__(self):
        return f"#{self.id} {self.balance} {self.amount:+} ({self.reason})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Ledger entries are append-only (R-112).")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Ledger entries are append-only (R-112).")


class CashbackTransaction(models.Model):
    """The reward record of one purchase (R-100…R-103); its amount never changes."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="cashback_transactions")
    purchase = models.OneToOneField("purchases.Purchase", on_delete=models.PROTECT, related_name="cashback_transaction")
    amount = _money()
    status = models.CharField(max_length=10, choices=CashbackStatus.choices, default=CashbackStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="cashback_amount_non_negative"),
            models.CheckConstraint(condition=Q(status__in=CashbackStatus.values), name="cashback_status_valid"),
        ]
        # Both lists sort newest first, ties by id (api.md §8; the back-office): indexes in that order.
        indexes = [
            models.Index(fields=["user", "-created_at", "id"], name="cashback_user_newest"),
            models.Index(fields=["-created_at", "id"], name="cashback_newest"),
        ]

    def __str__(self):
        return f"cashback {self.amount} ({self.status})"
