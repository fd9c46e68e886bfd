"""HTTP entry points of purchases (api.md §7) and their compatibility aliases (§0.7)."""

from contextlib import contextmanager

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.selectors import resolve_path_user
from clicknback.audit.services import Actor
from clicknback.errors import Forbidden, NotFound
from clicknback.fields import parse_uuid
from clicknback.pagination import paginated_response
from clicknback.query import QueryReader
from clicknback.schema import ADMIN_403, AUTH_401, VALIDATION_400, error_responses
from clicknback.throttling import IngestUserThrottle
from purchases import selectors, services
from purchases.exceptions import DuplicatePurchase, InvalidPurchaseStatus
from purchases.serializers import (
    IngestionSerializer,
    PurchaseAdminItemSerializer,
    PurchaseDetailsSerializer,
    PurchaseResultSerializer,
    PurchaseUserItemSerializer,
    ReverseSerializer,
)

STATUS_PARAM = OpenApiParameter("status", OpenApiTypes.STR, enum=selectors.ALL_STATUSES)
INVALID_STATUS_422 = (422, "INVALID_PURCHASE_STATUS")
PURCHASE_404 = (404, "NOT_FOUND")


def purchase_uuid(purchase_id: str):
    """The path's purchase id as a UUID; a malformed one is a 404 like an unknown one."""
    parsed = parse_uuid(purchase_id)
    if parsed is None:
        raise NotFound("purchase", purchase_id)
    return parsed


@contextmanager
def not_found_as(purchase_id: str):
    """The service's 404 (raised by its row lock: no separate existence read) names the id as sent."""
    try:
        yield
    except NotFound:
        raise NotFound("purchase", purchase_id) from None


def read_status(query: QueryReader) -> str | None:
    """v1 compat (R-205): an unknown purchase status is 422, after every 400 of the request."""
    query.pagination()
    query.done()
    value = query.params.get("status")
    if value is not None and value not in selectors.ALL_STATUSES:
        raise InvalidPurchaseStatus(value)
    return value


class PurchaseViewSet(viewsets.ViewSet):
    admin_actions = {"list", "confirmation", "confirm", "reverse", "reverse_alias"}
    lookup_url_kwarg = "purchase_id"
    lookup_value_regex = "[^/]+"

    def get_throttles(self):
        return [IngestUserThrottle()] if self.action == "create" else []

    @extend_schema(
        request=IngestionSerializer,
        responses={
            201: PurchaseResultSerializer,
            **error_responses(
                VALIDATION_400, AUTH_401, (403, "FORBIDDEN"), (409, "DUPLICATE_PURCHASE"),
                (422, "UNSUPPORTED_CURRENCY, USER_NOT_ELIGIBLE, MERCHANT_NOT_ELIGIBLE, OFFER_NOT_AVAILABLE"),
                (429, "RATE_LIMITED"),
            ),
        },
    )
    def create(self, request):
        serializer = IngestionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["user_id"] != request.user.pk:
            # self-ingestion only, admins included; before anything touches the database.
            raise Forbidden("You can only record your own purchases.",
                            details={"reason": "user_id does not match the caller."})
        try:
            purchase = services.ingest_purchase(
                user_id=data["user_id"], merchant_id=data["merchant_id"], external_id=data["external_id"],
                amount=data["amount"], currency=data["currency"], actor=Actor.of_user(request.user),
            )
        except DuplicatePurchase as duplicate:
            raise duplicate.seen_by(request.user.pk) from None
        return Response(PurchaseResultSerializer(purchase).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[
            STATUS_PARAM,
            OpenApiParameter("user_id", OpenApiTypes.UUID),
            OpenApiParameter("merchant_id", OpenApiTypes.UUID),
            OpenApiParameter("start_date", OpenApiTypes.DATE),
            OpenApiParameter("end_date", OpenApiTypes.DATE),
        ],
        responses={
            200: PurchaseAdminItemSerializer(many=True),
            **error_responses(VALIDATION_400, AUTH_401, ADMIN_403, INVALID_STATUS_422),
        },
    )
    def list(self, request):
        query = QueryReader(request.query_params)
        user_id = query.uuid("user_id")
        merchant_id = query.uuid("merchant_id")
        start_date, end_date = query.date_range("start_date", "end_date")
        status_filter = read_status(query)
        purchases = selectors.list_purchases(status=status_filter, user_id=user_id, merchant_id=merchant_id,
                                             start_date=start_date, end_date=end_date)
        return paginated_response(request, purchases, PurchaseAdminItemSerializer)

    @extend_schema(responses={200: PurchaseDetailsSerializer, **error_responses(AUTH_401, PURCHASE_404)})
    def retrieve(self, request, purchase_id=None):
        return Response(PurchaseDetailsSerializer(selectors.get_purchase_for(purchase_id, viewer=request.user)).data)

    def _confirm(self, request, purchase_id):
        with not_found_as(purchase_id):
            purchase = services.confirm_purchase(purchase_id=purchase_uuid(purchase_id), actor=Actor.of_user(request.user))
        return Response(PurchaseResultSerializer(purchase).data)

    @extend_schema(
        request=None,
        responses={
            200: PurchaseResultSerializer,
            **error_responses(AUTH_401, ADMIN_403, PURCHASE_404, (400, "PURCHASE_NOT_PENDING")),
        },
    )
    @action(detail=True, methods=["post"], url_path="confirmation")
    def confirmation(self, request, purchase_id=None):
        return self._confirm(request, purchase_id)

    @extend_schema(
        request=None,
        responses={
            200: PurchaseResultSerializer,
            **error_responses(AUTH_401, ADMIN_403, PURCHASE_404, (400, "PURCHASE_NOT_PENDING")),
        },
        description="Compatibility alias of POST /purchases/{purchase_id}/confirmation.",
    )
    @action(detail=True, methods=["post"], url_path="confirm")
    def confirm(self, request, purchase_id=None):
        return self._confirm(request, purchase_id)

    @extend_schema(
        request=ReverseSerializer,
        responses={
            200: PurchaseResultSerializer,
            **error_responses(VALIDATION_400, AUTH_401, ADMIN_403, PURCHASE_404,
                              (400, "PURCHASE_ALREADY_REVERSED, PURCHASE_NOT_REVERSIBLE")),
        },
        description="PATCH is canonical; POST is the compatibility alias.",
    )
    @action(detail=True, methods=["patch", "post"], url_path="reverse")
    def reverse(self, request, purchase_id=None):
        serializer = ReverseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with not_found_as(purchase_id):
            purchase = services.reverse_purchase(
                purchase_id=purchase_uuid(purchase_id), reason=serializer.validated_data.get("reason") or None,
                actor=Actor.of_user(request.user),
            )
        return Response(PurchaseResultSerializer(purchase).data)


class UserPurchasesViewSet(viewsets.ViewSet):
    """GET /users/me/purchases and its alias /users/{user_id}/purchases (R-22)."""

    @extend_schema(
        parameters=[STATUS_PARAM],
        responses={
            200: PurchaseUserItemSerializer(many=True),
            **error_responses(VALIDATION_400, AUTH_401, (403, "FORBIDDEN"), (404, "NOT_FOUND"), INVALID_STATUS_422),
        },
    )
    def list(self, request, user_id="me"):
        query = QueryReader(request.query_params)
        owner = resolve_path_user(request.user, user_id, before_lookup=query.validate_page)
        status_filter = read_status(query)
        return paginated_response(request, selectors.purchases_of_user(owner.pk, status=status_filter),
                                  PurchaseUserItemSerializer)
