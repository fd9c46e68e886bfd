"""Reads of wallets: summary, cashback transactions."""

from django.db.models import QuerySet

from wallets.models import ZERO, CashbackTransaction, Wallet


BALANCE_FIELDS = ("pending_balance", "available_balance", "paid_balance", "clawback_balance")


def wallet_summary(user_id) -> dict:
    """The four balances as Decimals, one row read; all 0.00 when the user has no wallet row yet (R-119)."""
    row = Wallet.objects.filter(user_id=user_id).values(*BALANCE_FIELDS).first()
    return row if row is not None else dict.fromkeys(BALANCE_FIELDS, ZERO)


def cashback_transactions_of(user_id) -> QuerySet[CashbackTransaction]:
    """api.md §8: newest first, ties by id."""
    return CashbackTransaction.objects.filter(user_id=user_id).order_by("-created_at", "id")
