"""HTTP entry points of offers (api.md §6)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from clicknback.audit.services import Actor
from clicknback.errors import Forbidden
from clicknback.pagination import paginated_response, paginated_rows
from clicknback.query import QueryReader
from clicknback.schema import ADMIN_403, AUTH_401, VALIDATION_400, error_responses
from merchants.serializers import StatusChangeRequestSerializer, StatusChangeSerializer
from offers import selectors, services
from offers.serializers import (
    ActiveOfferSerializer,
    OfferCreateSerializer,
    OfferDetailsSerializer,
    OfferSerializer,
    active_offer_row,
)


class OfferViewSet(viewsets.ViewSet):
    admin_actions = {"create", "status"}
    lookup_url_kwarg = "offer_id"
    lookup_value_regex = "[^/]+"

    @extend_schema(
        request=OfferCreateSerializer,
        responses={
            201: OfferSerializer,
            **error_responses(VALIDATION_400, AUTH_401, ADMIN_403, (404, "NOT_FOUND"),
                              (409, "ACTIVE_OFFER_ALREADY_EXISTS"), (422, "MERCHANT_NOT_ACTIVE")),
        },
    )
    def create(self, request):
        serializer = OfferCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        offer = services.create_offer(**serializer.validated_data, actor=Actor.of_user(request.user))
        return Response(OfferSerializer(offer).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=["active", "inactive"]),
            OpenApiParameter("merchant_id", OpenApiTypes.UUID),
            OpenApiParameter("date_from", OpenApiTypes.DATE, description="offers with end_date ≥ date_from"),
            OpenApiParameter("date_to", OpenApiTypes.DATE, description="offers with start_date ≤ date_to"),
        ],
        responses={200: OfferSerializer(many=True), **error_responses(VALIDATION_400, AUTH_401)},
    )
    def list(self, request):
        query = QueryReader(request.query_params)
        status_filter = query.choice("status", ["active", "inactive"])
        merchant_id = query.uuid("merchant_id")
        date_from, date_to = query.date_range("date_from", "date_to")
        query.pagination()
        query.done()
        offers = selectors.list_offers(
            include_inactive_merchants=request.user.is_admin,
            active=None if status_filter is None else status_filter == "active",
            merchant_id=merchant_id, date_from=date_from, date_to=date_to,
        )
        return paginated_response(request, offers, OfferSerializer)

    @extend_schema(responses={200: ActiveOfferSerializer(many=True), **error_responses(VALIDATION_400, AUTH_401)})
    @action(detail=False, methods=["get"], url_path="active")
    def active(self, request):
        query = QueryReader(request.query_params)
        query.pagination()
        query.done()
        return paginated_rows(request, selectors.live_offer_rows(), active_offer_row)

    @extend_schema(
        responses={200: OfferDetailsSerializer, **error_responses(AUTH_401, (403, "FORBIDDEN"), (404, "NOT_FOUND"))}
    )
    def retrieve(self, request, offer_id=None):
        offer = selectors.get_offer(offer_id)
        if not request.user.is_admin:
            # others see an offer only while it and its merchant are active.
            reason = None
            if not offer.active:
                reason = "The offer is inactive; only admins can view it."
            elif not offer.merchant.active:
                reason = "The offer's merchant is inactive; only admins can view it."
            if reason:
                raise Forbidden(reason, details={"resource_type": "offer", "resource_id": str(offer.pk), "reason": reason})
        return Response(OfferDetailsSerializer(offer).data)

    @extend_schema(
        request=StatusChangeRequestSerializer,
        responses={
            200: StatusChangeSerializer,
            **error_responses(VALIDATION_400, AUTH_401, ADMIN_403, (404, "NOT_FOUND"),
                              (409, "ACTIVE_OFFER_ALREADY_EXISTS")),
        },
    )
    @action(detail=True, methods=["patch"], url_path="status")
    def status(self, request, offer_id=None):
        serializer = StatusChangeRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        offer = selectors.get_offer(offer_id)
        offer, _ = services.set_offer_active(
            offer_id=offer.pk, active=serializer.validated_data["status"] == "active", actor=Actor.of_user(request.user)
        )
        return Response({"id": str(offer.pk), "status": "active" if offer.active else "inactive"})
