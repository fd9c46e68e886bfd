"""Verification of pending purchases against bank data (R-173), behind a small interface so a
real integration can replace the simulation by setting PURCHASE_VERIFIER_CLASS."""

from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class Verdict:
    outcome: str  # "confirmed" | "rejected" (hard decline) | "pending" (soft failure, retried)
    reason: str | None = None


CONFIRMED = Verdict("confirmed")
PENDING = Verdict("pending")


class Verifier(Protocol):
    def verify(self, purchase) -> Verdict: ...


class SimulatedVerifier:
    """R-173: every purchase is confirmed, except those of REJECTION_MERCHANT_ID, which never
    find their bank movement (soft failure → rejected after the last attempt)."""

    def verify(self, purchase) -> Verdict:
        rejection_merchant = (settings.REJECTION_MERCHANT_ID or "").strip().lower()
        if rejection_merchant and str(purchase.merchant_id) == rejection_merchant:
            return PENDING
        return CONFIRMED


def get_verifier() -> Verifier:
    return import_string(settings.PURCHASE_VERIFIER_CLASS)()
