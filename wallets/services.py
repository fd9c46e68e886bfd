"""Every money movement of a wallet (R-110…R-119). The only code that changes a balance column,
always with the wallet row locked and one ledger entry per change, in the caller's transaction."""

import uuid
from decimal import Decimal

from django.db import transaction

from clicknback.audit.services import Actor
from wallets.exceptions import LedgerInvariantBroken
from wallets.models import ZERO, BalanceName, CashbackStatus, CashbackTransaction, LedgerEntry, LedgerReason, Wallet


def on_account_created(sender, user, **kwargs) -> None:
    """Receiver of accounts.signals.account_created (R-13)."""
    Wallet.objects.create(user=user)


def lock_wallet_if_exists(user_id) -> Wallet | None:
    """The user's wallet locked FOR UPDATE (R-6), or None when it has no row: one statement."""
    return Wallet.objects.select_for_update().filter(user_id=user_id).first()


def lock_wallet(user_id) -> Wallet:
    """The user's wallet, locked FOR UPDATE (R-6); created first if it is missing (R-119).
    Callers holding a purchase or payout lock call this after them (lock order R-6)."""
    wallet = lock_wallet_if_exists(user_id)
    if wallet is None:
        Wallet.objects.get_or_create(user_id=user_id)
        wallet = Wallet.objects.select_for_update().get(user_id=user_id)
    return wallet


class _Movement:
    """Applies signed changes to a locked wallet and writes their ledger entries (R-111, R-117)."""

    def __init__(self, wallet: Wallet, *, actor: Actor, purchase=None, payout=None,
                 operation_id: uuid.UUID | None = None):
        if not transaction.get_connection().in_atomic_block:
            raise RuntimeError("Wallet movements must run inside transaction.atomic() (R-5).")
        self.wallet = wallet
        self.actor = actor
        self.purchase = purchase
        self.payout = payout
        self.operation_id = operation_id or uuid.uuid4()
        self.touched: set[str] = set()

    def move(self, balance: str, amount: Decimal, reason: str) -> None:
        if amount == ZERO:
            return  # no zero entries
        field = f"{balance}_balance"
        after = getattr(self.wallet, field) + amount
        if after < ZERO:
            raise LedgerInvariantBroken(
                f"{balance} balance would become {after} ({reason}).",
                details={"user_id": str(self.wallet.user_id), "balance": balance},
            )
        setattr(self.wallet, field, after)
        self.touched.add(field)
        LedgerEntry.objects.create(
            wallet=self.wallet, operation_id=self.operation_id, balance=balance, amount=amount,
            balance_after=after, reason=reason, purchase=self.purchase, payout=self.payout,
            actor_type=self.actor.type, actor_id=self.actor.id,
        )

    def credit_available(self, amount: Decimal, reason: str) -> Decimal:
        """R-116: money flowing into available first pays down clawback. Returns what was settled."""
        settled = min(amount, self.wallet.clawback_balance)
        self.move(BalanceName.CLAWBACK, -settled, LedgerReason.CLAWBACK_SETTLED)
        self.move(BalanceName.AVAILABLE, amount - settled, reason)
        return settled

    def save(self) -> Wallet:
        if self.touched:
            self.wallet.save(update_fields=sorted(self.touched | {"updated_at"}))
        return self.wallet


def earn_cashback(*, wallet: Wallet, purchase, amount: Decimal, actor: Actor) -> CashbackTransaction:
    """Ingestion (R-69): a pending cashback transaction and `pending +c` on the locked wallet."""
    movement = _Movement(wallet, actor=actor, purchase=purchase)  # refuses before anything is written
    cashback = CashbackTransaction.objects.create(
        user_id=wallet.user_id, purchase=purchase, amount=amount, status=CashbackStatus.PENDING
    )
    movement.move(BalanceName.PENDING, amount, LedgerReason.CASHBACK_EARNED)
    movement.save()
    return cashback


def _locked_cashback(purchase) -> CashbackTransaction:
    return CashbackTransaction.objects.select_for_update().get(purchase=purchase)


def release_cashback(*, purchase, actor: Actor) -> dict:
    """Confirmation (R-91, R-111): pending −c; clawback −s; available +(c−s). The caller holds the
    purchase lock; the wallet is locked here (R-6)."""
    cashback = _locked_cashback(purchase)
    wallet = lock_wallet(purchase.user_id)
    movement = _Movement(wallet, actor=actor, purchase=purchase)
    movement.move(BalanceName.PENDING, -cashback.amount, LedgerReason.CASHBACK_CONFIRMED)
    settled = movement.credit_available(cashback.amount, LedgerReason.CASHBACK_CONFIRMED)
    movement.save()
    cashback.status = CashbackStatus.AVAILABLE
    cashback.save(update_fields=["status", "updated_at"])
    return {"cashback": str(cashback.amount), "clawback_settled": str(settled)}


def withdraw_cashback(*, purchase, actor: Actor, rejected: bool) -> dict:
    """Rejection (R-92) or reversal (R-93) of a purchase's cashback.

    From pending: pending −c. From available (a confirmed purchase reversed, R-115): available −d
    with d = min(c, available), and the shortfall c−d is recorded as clawback."""
    cashback = _locked_cashback(purchase)
    wallet = lock_wallet(purchase.user_id)
    movement = _Movement(wallet, actor=actor, purchase=purchase)
    clawback_recorded = ZERO
    if cashback.status == CashbackStatus.PENDING:
        reason = LedgerReason.CASHBACK_REJECTED if rejected else LedgerReason.CASHBACK_REVERSED
        movement.move(BalanceName.PENDING, -cashback.amount, reason)
    elif cashback.status == CashbackStatus.AVAILABLE:
        taken = min(cashback.amount, wallet.available_balance)
        clawback_recorded = cashback.amount - taken
        movement.move(BalanceName.AVAILABLE, -taken, LedgerReason.CASHBACK_REVERSED)
        movement.move(BalanceName.CLAWBACK, clawback_recorded, LedgerReason.CLAWBACK_RECORDED)
    else:
        raise LedgerInvariantBroken("Cashback already reversed.",
                                    details={"purchase_id": str(purchase.pk), "wallet_id": str(wallet.pk)})
    movement.save()
    previous_status = cashback.status
    cashback.status = CashbackStatus.REVERSED
    cashback.save(update_fields=["status", "updated_at"])
    return {
        "cashback": str(cashback.amount),
        "cashback_status_before": previous_status,
        "clawback_recorded": str(clawback_recorded),
    }


def debit_for_payout(*, wallet: Wallet, payout, actor: Actor) -> None:
    """R-121: the requested amount leaves `available` at once (`available −x`, payout_requested).
    The caller holds the wallet lock and has checked the balance (R-125)."""
    movement = _Movement(wallet, actor=actor, payout=payout)
    movement.move(BalanceName.AVAILABLE, -payout.amount, LedgerReason.PAYOUT_REQUESTED)
    movement.save()


def record_payout_paid(*, payout, actor: Actor) -> None:
    """R-127 → paid: `paid +x` (payout_paid). The caller holds the payout lock (R-6)."""
    movement = _Movement(lock_wallet(payout.user_id), actor=actor, payout=payout)
    movement.move(BalanceName.PAID, payout.amount, LedgerReason.PAYOUT_PAID)
    movement.save()


def return_payout(*, payout, actor: Actor) -> dict:
    """R-127 → rejected / failed: the money comes back, paying down clawback first (R-111, R-116)."""
    movement = _Movement(lock_wallet(payout.user_id), actor=actor, payout=payout)
    settled = movement.credit_available(payout.amount, LedgerReason.PAYOUT_RETURNED)
    movement.save()
    return {"clawback_settled": str(settled), "returned_to_available": str(payout.amount - settled)}
