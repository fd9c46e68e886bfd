"""HTTP entry point of the merchant webhook: POST /api/v1/webhooks/purchases (api.md §10).

Checks answer in the order of §10's error table: body size (the middleware, from Content-Length;
again here on the bytes read), signature, timestamp window, content type, body, then the event."""

from django.conf import settings
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from clicknback.errors import DomainError, payload_too_large_body
from clicknback.schema import VALIDATION_400, error_responses
from purchases import webhook_services, webhooks
from purchases.webhook_serializers import WebhookBodySerializer, WebhookPurchaseSerializer, read_webhook_request


class PayloadTooLarge(DomainError):
    code = "PAYLOAD_TOO_LARGE"
    status = 413

    def __init__(self, max_bytes: int):
        body = payload_too_large_body(max_bytes)["error"]
        super().__init__(body["message"], details=body["details"])


SIGNATURE_PARAMETERS = [
    OpenApiParameter(webhooks.MERCHANT_HEADER, OpenApiTypes.UUID, OpenApiParameter.HEADER, required=True,
                     description="The merchant's id."),
    OpenApiParameter(webhooks.TIMESTAMP_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                     pattern="^[0-9]+$",
                     description="Unix time in whole seconds; refused when more than 300 s from the server's clock."),
    OpenApiParameter(webhooks.SIGNATURE_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                     pattern="^sha256=[0-9a-fA-F]{64}$",
                     description='`sha256=` + hex(HMAC-SHA256(webhook secret, timestamp + "." + raw body)).'),
]


class PurchaseWebhookView(APIView):
    """No JWT: an Authorization header is ignored (api.md §0.6); the signature is the credential."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(
        operation_id="webhooks_purchases_create",
        summary="Merchant webhook: report and settle purchases (signed)",
        description=(
            "Events `purchase.created`, `purchase.confirmed`, `purchase.reversed`, signed with the merchant's "
            "webhook secret. Every event is idempotent: a byte-identical resend inside the replay window "
            "answers the same. Errors are checked in the order 413, 401 INVALID_SIGNATURE, 401 "
            "TIMESTAMP_OUT_OF_WINDOW, 415, 400, 404, 409, 422."
        ),
        parameters=SIGNATURE_PARAMETERS,
        request=WebhookBodySerializer,
        responses={
            200: OpenApiResponse(WebhookPurchaseSerializer,
                                 description="Identical replay, confirmation/reversal, or a no-op status event."),
            201: OpenApiResponse(WebhookPurchaseSerializer, description="purchase.created recorded a new purchase."),
            **error_responses(
                VALIDATION_400, (401, "INVALID_SIGNATURE, TIMESTAMP_OUT_OF_WINDOW"), (404, "NOT_FOUND"),
                (409, "EXTERNAL_ID_CONFLICT, PURCHASE_STATE_CONFLICT"), (413, "PAYLOAD_TOO_LARGE"),
                (415, "UNSUPPORTED_MEDIA_TYPE"),
                (422, "UNSUPPORTED_CURRENCY, USER_NOT_ELIGIBLE, MERCHANT_NOT_ELIGIBLE, OFFER_NOT_AVAILABLE"),
            ),
        },
        auth=[],
        tags=["webhooks"],
    )
    def post(self, request):
        raw_body = request.body  # the signed bytes, exactly as received, before any parsing
        if len(raw_body) > settings.MAX_REQUEST_BODY_BYTES:
            raise PayloadTooLarge(settings.MAX_REQUEST_BODY_BYTES)
        merchant, request_timestamp = webhooks.authenticate(request.headers, raw_body, now=timezone.now())
        with webhook_services.logged_event(merchant=merchant, request_timestamp=request_timestamp,
                                           raw_body=raw_body) as log:
            webhook_services.require_json_content_type(request.META.get("CONTENT_TYPE", ""))
            webhook_request = read_webhook_request(raw_body)
            outcome = webhook_services.apply_event(merchant=merchant, request=webhook_request)
            log.succeeded(outcome)
        return Response(WebhookPurchaseSerializer(outcome.purchase).data, status=outcome.status_code)
