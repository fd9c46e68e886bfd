"""Domain errors of offers (api.md §6)."""

from rest_framework import status

from clicknback.errors import DomainError


class MerchantNotActive(DomainError):
    code = "MERCHANT_NOT_ACTIVE"
    status = status.HTTP_422_UNPROCESSABLE_ENTITY

    def __init__(self, merchant_id):
        super().__init__(
            f"Merchant '{merchant_id}' is inactive.",
            details={"merchant_id": str(merchant_id), "action": "Activate the merchant first."},
        )


class ActiveOfferAlreadyExists(DomainError):
    code = "ACTIVE_OFFER_ALREADY_EXISTS"
    status = status.HTTP_409_CONFLICT

    def __init__(self, merchant_id, active_offer_id):
        super().__init__(
            f"Merchant '{merchant_id}' already has an active offer.",
            details={
                "merchant_id": str(merchant_id),
                "active_offer_id": str(active_offer_id),
                "action": "Deactivate the current offer first.",
            },
        )
