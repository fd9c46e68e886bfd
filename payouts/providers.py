"""The payment provider behind payouts (R-129): an interface, and the built-in simulation.
A real provider implements `transfer` the same way and is chosen with PAYOUT_PROVIDER_CLASS."""

import time
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class TransferResult:
    succeeded: bool
    external_reference: str | None = None
    failure_reason: str | None = None


class PaymentProvider(Protocol):
    def transfer(self, *, payout_id: str, user_id: str, amount, currency: str, method: str,
                 details: dict) -> TransferResult:
        """Idempotent by payout id: calling it again for the same payout never transfers twice."""


class SimulatedProvider:
    """Succeeds with reference "SIM-<payout id>" (so a retried call answers the same transfer),
    except for PAYOUT_FAILURE_USER_ID, whose payouts fail (R-129)."""

    def transfer(self, *, payout_id, user_id, amount, currency, method, details) -> TransferResult:
        if settings.PAYOUT_SIMULATED_DELAY_SECONDS:
            time.sleep(settings.PAYOUT_SIMULATED_DELAY_SECONDS)
        failing_user = (settings.PAYOUT_FAILURE_USER_ID or "").strip().lower()
        if failing_user and str(user_id) == failing_user:
            return TransferResult(succeeded=False, failure_reason="Simulated transfer failure")
        return TransferResult(succeeded=True, external_reference=f"SIM-{payout_id}")


def get_provider() -> PaymentProvider:
    return import_string(settings.PAYOUT_PROVIDER_CLASS)()
