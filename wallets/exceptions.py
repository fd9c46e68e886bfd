"""Domain errors of wallets."""

from clicknback.errors import DomainError


class LedgerInvariantBroken(DomainError):
    """A movement would make a balance negative: a bug upstream, never clamped (R-114)."""

    code = "LEDGER_INVARIANT_BROKEN"
    status = 500
