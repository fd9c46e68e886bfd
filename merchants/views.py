"""HTTP entry points of merchants (api.md §5), admin only."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from clicknback.audit.services import Actor
from clicknback.pagination import paginated_response
from clicknback.query import QueryReader
from clicknback.schema import ADMIN_403, AUTH_401, VALIDATION_400, error_responses
from merchants import selectors, services
from merchants.serializers import (
    MerchantCreateSerializer,
    MerchantSerializer,
    StatusChangeRequestSerializer,
    StatusChangeSerializer,
)


class MerchantViewSet(viewsets.ViewSet):
    admin_actions = {"create", "list", "status"}
    lookup_url_kwarg = "merchant_id"
    lookup_value_regex = "[^/]+"  # malformed ids reach the view and answer 404 after the role check

    @extend_schema(
        request=MerchantCreateSerializer,
        responses={
            201: MerchantSerializer,
            **error_responses(VALIDATION_400, AUTH_401, ADMIN_403, (409, "MERCHANT_NAME_ALREADY_EXISTS")),
        },
    )
    def create(self, request):
        serializer = MerchantCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        merchant = services.create_merchant(**serializer.validated_data, actor=Actor.of_user(request.user))
        return Response(MerchantSerializer(merchant).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[OpenApiParameter("active", OpenApiTypes.BOOL, description="true/false/1/0")],
        responses={200: MerchantSerializer(many=True), **error_responses(VALIDATION_400, AUTH_401, ADMIN_403)},
    )
    def list(self, request):
        query = QueryReader(request.query_params)
        active = query.boolean("active")
        query.pagination()
        query.done()
        return paginated_response(request, selectors.list_merchants(active=active), MerchantSerializer)

    @extend_schema(
        request=StatusChangeRequestSerializer,
        responses={
            200: StatusChangeSerializer,
            **error_responses(VALIDATION_400, AUTH_401, ADMIN_403, (404, "NOT_FOUND")),
        },
    )
    @action(detail=True, methods=["patch"], url_path="status")
    def status(self, request, merchant_id=None):
        serializer = StatusChangeRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        merchant = selectors.get_merchant(merchant_id)
        merchant, _ = services.set_merchant_active(
            merchant_id=merchant.pk,
            active=serializer.validated_data["status"] == "active",
            actor=Actor.of_user(request.user),
        )
        return Response({"id": str(merchant.pk), "status": "active" if merchant.active else "inactive"})
