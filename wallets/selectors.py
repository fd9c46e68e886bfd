"""Reads of wallets: summary, cashback transactions."""

from django.db.models import QuerySet

from wallets.models import ZERO, CashbackTransaction, Wallet


def wallet_summary(user_id) -> dict:
    """The four balances; all 0.00 when the user has no wallet row yet (R-119)."""
    wallet = Wallet.objects.filter(user_id=user_id).first()
    if wallet is None:
        return {name: ZERO for name in ("pending_balance", "available_balance", "paid_balance", "clawback_balance")}
    return {
        "pending_balance": wallet.pending_balance,
        "available_balance": wallet.available_balance,
        "paid_balance": wallet.paid_balance,
        "clawback_balance": wallet.clawback_balance,
    }


def cashback_transactions_of(user_id) -> QuerySet[CashbackTransaction]:
    """api.md §8: newest first, ties by id."""
    return CashbackTransaction.objects.filter(user_id=user_id).order_by("-created_at", "id")
