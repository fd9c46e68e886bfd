"""Domain errors of payouts (api.md §9)."""

from rest_framework import status

from clicknback.errors import DomainError


class IdempotencyKeyReused(DomainError):
    code = "IDEMPOTENCY_KEY_REUSED"
    status = status.HTTP_409_CONFLICT

    def __init__(self, key: str):
        super().__init__("This Idempotency-Key was already used for a different request.",
                         details={"idempotency_key": key})


class PayoutPolicyViolation(DomainError):
    code = "PAYOUT_POLICY_VIOLATION"
    status = status.HTTP_422_UNPROCESSABLE_ENTITY

    def __init__(self, violations: list[dict]):
        super().__init__("The payout breaks the payout policy.", details={"violations": violations})


class InsufficientBalance(DomainError):
    code = "INSUFFICIENT_BALANCE"
    status = status.HTTP_409_CONFLICT

    def __init__(self, requested, available):
        super().__init__(
            f"Requested {requested:.2f} EUR but only {available:.2f} EUR is available.",
            details={"requested_amount": f"{requested:.2f}", "available_balance": f"{available:.2f}"},
        )


class PayoutInvalidTransition(DomainError):
    code = "PAYOUT_INVALID_TRANSITION"
    status = status.HTTP_400_BAD_REQUEST

    def __init__(self, payout, requested: str, allowed: list[str]):
        super().__init__(
            f"Payout '{payout.pk}' is '{payout.status}' and cannot become '{requested}'.",
            details={"payout_id": str(payout.pk), "current_status": payout.status, "requested_status": requested,
                     "allowed_statuses": allowed},
        )
