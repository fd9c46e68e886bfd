"""The ledger check of R-182…R-185: read-only, one consistent snapshot, never fixes anything."""

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Sum

from wallets.models import ZERO, BalanceName, CashbackStatus, CashbackTransaction, LedgerEntry, Wallet

BALANCES = [BalanceName.PENDING, BalanceName.AVAILABLE, BalanceName.PAID, BalanceName.CLAWBACK]


@dataclass(frozen=True)
class Mismatch:
    user_id: str
    check: str
    balance: str
    expected: Decimal
    actual: Decimal

    def __str__(self):
        return (
            f"MISMATCH user={self.user_id} check={self.check} balance={self.balance} "
            f"expected={self.expected} actual={self.actual}"
        )


def in_flight_by_user(user_ids) -> dict:
    """Money of payouts that left `available` but is not yet paid/failed/rejected (R-110)."""
    from payouts.models import IN_FLIGHT_STATUSES, Payout

    rows = Payout.objects.filter(status__in=IN_FLIGHT_STATUSES)
    if user_ids is not None:
        rows = rows.filter(user_id__in=user_ids)
    return dict(rows.values("user_id").annotate(total=Sum("amount")).values_list("user_id", "total"))


def reconcile(*, user_id=None) -> tuple[int, list[Mismatch]]:
    """(wallets checked, mismatches) for every wallet, or the one of `user_id` (checks C1…C6)."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            # One snapshot for every query below; inside a caller's transaction, its own.
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        wallets = Wallet.objects.all()
        if user_id is not None:
            wallets = wallets.filter(user_id=user_id)
        wallets = list(wallets.order_by("user_id"))
        ids = [w.user_id for w in wallets]
        ledger = _ledger_facts(ids if user_id is not None else None)
        cashback = _cashback_sums(ids if user_id is not None else None)
        in_flight = in_flight_by_user(ids if user_id is not None else None)
    mismatches = []
    for wallet in wallets:
        mismatches.extend(_check_wallet(wallet, ledger.get(wallet.user_id, {}), cashback.get(wallet.user_id, {}),
                                        in_flight.get(wallet.user_id, ZERO)))
    return len(wallets), mismatches


def _ledger_facts(wallet_ids) -> dict:
    """Per wallet and balance: sum of entries, first broken link of the balance_after chain, last balance_after."""
    facts: dict = defaultdict(dict)
    entries = LedgerEntry.objects.order_by("wallet_id", "balance", "id")
    if wallet_ids is not None:
        entries = entries.filter(wallet_id__in=wallet_ids)
    for wallet_id, balance, amount, after in entries.values_list(
        "wallet_id", "balance", "amount", "balance_after"
    ).iterator(chunk_size=5000):
        fact = facts[wallet_id].setdefault(balance, {"sum": ZERO, "broken": None, "last_after": None})
        fact["sum"] += amount
        if fact["broken"] is None and after != fact["sum"]:
            fact["broken"] = (fact["sum"], after)
        fact["last_after"] = after
    return facts


def _cashback_sums(user_ids) -> dict:
    sums: dict = defaultdict(dict)
    rows = CashbackTransaction.objects.all()
    if user_ids is not None:
        rows = rows.filter(user_id__in=user_ids)
    for row in rows.values("user_id", "status").annotate(total=Sum("amount")):
        sums[row["user_id"]][row["status"]] = row["total"]
    return sums


def _check_wallet(wallet: Wallet, ledger: dict, cashback: dict, in_flight: Decimal) -> list[Mismatch]:
    user = str(wallet.user_id)
    found = []
    for name in BALANCES:
        stored = wallet.balance(name)
        fact = ledger.get(name, {"sum": ZERO, "broken": None, "last_after": None})
        if fact["sum"] != stored:  # C1
            found.append(Mismatch(user, "C1", name, fact["sum"], stored))
        if fact["broken"] is not None:  # C2: the chain itself
            found.append(Mismatch(user, "C2", name, *fact["broken"]))
        elif fact["last_after"] is not None and fact["last_after"] != stored:  # C2: its end
            found.append(Mismatch(user, "C2", name, fact["last_after"], stored))
        if stored < ZERO:  # C3
            found.append(Mismatch(user, "C3", name, ZERO, stored))
    if wallet.clawback_balance > ZERO and wallet.available_balance != ZERO:  # C4
        found.append(Mismatch(user, "C4", BalanceName.AVAILABLE, ZERO, wallet.available_balance))
    pending_cashback = cashback.get(CashbackStatus.PENDING, ZERO)
    if wallet.pending_balance != pending_cashback:  # C5
        found.append(Mismatch(user, "C5", BalanceName.PENDING, pending_cashback, wallet.pending_balance))
    released = cashback.get(CashbackStatus.AVAILABLE, ZERO)
    accounted = wallet.available_balance - wallet.clawback_balance + in_flight + wallet.paid_balance
    if accounted != released:  # C6
        found.append(Mismatch(user, "C6", "-", released, accounted))
    return found
