"""Domain errors of purchases (api.md §7)."""

from rest_framework import status

from clicknback.errors import DomainError

REVERSIBLE_FROM = ["pending", "confirmed"]


class DuplicatePurchase(DomainError):
    """409 on (merchant, external_id). R-216: the stored purchase's time and amount are shown only
    to its owner; the API narrows the exception with `seen_by(caller)` before it is answered."""

    code = "DUPLICATE_PURCHASE"
    status = status.HTTP_409_CONFLICT
    ACTION = "Safe to retry: the first purchase stands; nothing was changed."

    def __init__(self, existing, *, reveal_stored: bool = True):
        self.existing = existing
        self.purchase = existing  # the webhook compares it with a replay
        details = {"external_id": existing.external_id}
        if reveal_stored:
            details["previously_created_at"] = existing.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            details["previously_processed_amount"] = f"{existing.amount:.2f}"
        details["action"] = self.ACTION
        super().__init__(f"Purchase '{existing.external_id}' was already recorded for this merchant.",
                         details=details)

    def seen_by(self, caller_id) -> "DuplicatePurchase":
        """The same conflict as `caller_id` may see it: another user's purchase reveals nothing."""
        return DuplicatePurchase(self.existing, reveal_stored=self.existing.user_id == caller_id)


class _Unprocessable(DomainError):
    status = status.HTTP_422_UNPROCESSABLE_ENTITY


class UnsupportedCurrency(_Unprocessable):
    code = "UNSUPPORTED_CURRENCY"

    def __init__(self, currency: str):
        super().__init__(f"Currency '{currency}' is not supported.",
                         details={"currency": currency, "reason": "Only EUR is supported."})


class UserNotEligible(_Unprocessable):
    code = "USER_NOT_ELIGIBLE"

    def __init__(self, user_id, reason: str):
        super().__init__(f"User '{user_id}' cannot earn cashback.", details={"user_id": str(user_id), "reason": reason})


class MerchantNotEligible(_Unprocessable):
    code = "MERCHANT_NOT_ELIGIBLE"

    def __init__(self, merchant_id, reason: str):
        super().__init__(f"Merchant '{merchant_id}' cannot take purchases.",
                         details={"merchant_id": str(merchant_id), "reason": reason})


class OfferNotAvailable(_Unprocessable):
    code = "OFFER_NOT_AVAILABLE"

    def __init__(self, merchant_id):
        super().__init__(f"Merchant '{merchant_id}' has no live offer today.",
                         details={"merchant_id": str(merchant_id), "reason": "No live offer for this merchant today (UTC)."})


class PurchaseNotPending(DomainError):
    code = "PURCHASE_NOT_PENDING"
    status = status.HTTP_400_BAD_REQUEST

    def __init__(self, purchase):
        super().__init__(
            f"Purchase '{purchase.pk}' is '{purchase.status}'; only pending purchases can be confirmed.",
            details={"violations": [{"purchase_id": str(purchase.pk), "current_status": purchase.status,
                                     "required_status": "pending"}]},
        )


class _NotReversible(DomainError):
    status = status.HTTP_400_BAD_REQUEST

    def __init__(self, purchase):
        super().__init__(
            f"Purchase '{purchase.pk}' is '{purchase.status}'; only pending or confirmed purchases can be reversed.",
            details={"violations": [{"purchase_id": str(purchase.pk), "current_status": purchase.status,
                                     "reversible_from_statuses": REVERSIBLE_FROM}]},
        )


class PurchaseAlreadyReversed(_NotReversible):
    code = "PURCHASE_ALREADY_REVERSED"


class PurchaseNotReversible(_NotReversible):
    code = "PURCHASE_NOT_REVERSIBLE"


class InvalidPurchaseStatus(_Unprocessable):
    code = "INVALID_PURCHASE_STATUS"

    def __init__(self, value: str):
        super().__init__(
            f"Invalid status '{value}'; allowed values: pending, confirmed, rejected, reversed.",
            details={"status": value},
        )


# --- the merchant webhook (api.md §10) ------------------------------------------------------------


class InvalidSignature(DomainError):
    """R-150: one code and one message for every authentication failure, so a caller cannot tell
    an unknown merchant from a bad signature."""

    code = "INVALID_SIGNATURE"
    status = status.HTTP_401_UNAUTHORIZED
    message = "Missing or invalid webhook signature."

    def __init__(self):
        super().__init__(headers={"WWW-Authenticate": 'ClickNBack-HMAC-SHA256 realm="webhooks"'})


class TimestampOutOfWindow(DomainError):
    code = "TIMESTAMP_OUT_OF_WINDOW"
    status = status.HTTP_401_UNAUTHORIZED

    def __init__(self, tolerance_seconds: int):
        super().__init__(
            f"X-ClickNBack-Timestamp is more than {tolerance_seconds} seconds away from the server time.",
            details={"tolerance_seconds": tolerance_seconds},
            headers={"WWW-Authenticate": 'ClickNBack-HMAC-SHA256 realm="webhooks"'},
        )


class WebhookUnsupportedMediaType(DomainError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    status = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    message = "Request body must be sent as application/json."


class WebhookPurchaseNotFound(DomainError):
    """A status event for an external id this merchant never reported (R-155)."""

    code = "NOT_FOUND"
    status = status.HTTP_404_NOT_FOUND

    def __init__(self, external_id: str):
        super().__init__(f"No purchase '{external_id}' was reported by this merchant.",
                         details={"resource_type": "purchase", "external_id": external_id})


class ExternalIdConflict(DomainError):
    """R-151: a purchase.created whose money fields differ from the stored purchase."""

    code = "EXTERNAL_ID_CONFLICT"
    status = status.HTTP_409_CONFLICT

    def __init__(self, purchase):
        self.purchase = purchase  # the webhook event log points at it
        super().__init__(
            f"Purchase '{purchase.external_id}' was already reported with a different user, amount or currency.",
            details={"external_id": purchase.external_id, "purchase_id": str(purchase.pk)},
        )


class PurchaseStateConflict(DomainError):
    """R-155: a status event the purchase's current status does not allow."""

    code = "PURCHASE_STATE_CONFLICT"
    status = status.HTTP_409_CONFLICT

    def __init__(self, purchase, requested_status: str):
        self.purchase = purchase  # the webhook event log points at it
        super().__init__(
            f"Purchase '{purchase.external_id}' is '{purchase.status}'; it cannot become '{requested_status}'.",
            details={"external_id": purchase.external_id, "current_status": purchase.status,
                     "requested_status": requested_status},
        )
