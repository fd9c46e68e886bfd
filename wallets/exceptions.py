"""Domain errors of wallets."""

from clicknback.errors import InvariantBroken


class LedgerInvariantBroken(InvariantBroken):
    """A movement would make a balance negative: a bug upstream, never clamped (R-114). The API
    answers the standard 500 INTERNAL_SERVER_ERROR envelope; the log line names the wallet."""

    code = "LEDGER_INVARIANT_BROKEN"

    @property
    def wallet_id(self) -> str | None:
        # A wallet's primary key is its user's id (rules.md §2).
        return self.details.get("wallet_id") or self.details.get("user_id")

    def log_context(self) -> str:
        others = [f"{key}={value}" for key, value in self.details.items() if key != "wallet_id"]
        return ", ".join([f"wallet_id={self.wallet_id}", *others])
