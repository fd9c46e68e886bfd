"""HTTP entry points of payouts (api.md §9) and their aliases (§0.7)."""

import re

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from accounts.selectors import resolve_path_user
from clicknback.audit.services import Actor
from clicknback.errors import ValidationFailed, violation
from clicknback.pagination import paginated_response
from clicknback.query import QueryReader
from clicknback.schema import ADMIN_403, AUTH_401, VALIDATION_400, error_responses
from clicknback.throttling import PayoutUserThrottle
from payouts import selectors, services
from payouts.serializers import PayoutRequestSerializer, PayoutSerializer, PayoutStatusChangeSerializer

# 1–255 visible ASCII characters.
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, location=OpenApiParameter.HEADER, required=False,
    description="1–255 visible ASCII characters; a retry with the same key and body replays the first response.",
)
STATUS_PARAM = OpenApiParameter("status", OpenApiTypes.STR, enum=selectors.STATUS_FILTER_VALUES)
PAYOUT_404 = (404, "NOT_FOUND")


def render_payout(payout) -> str:
    return JSONRenderer().render(PayoutSerializer(payout).data).decode()


class UserPayoutsViewSet(viewsets.ViewSet):
    """POST/GET /users/me/payouts and the alias /users/{user_id}/payouts (R-21, R-22)."""

    def get_throttles(self):
        return [PayoutUserThrottle()] if self.action == "create" else []

    @extend_schema(
        parameters=[IDEMPOTENCY_HEADER],
        request=PayoutRequestSerializer,
        responses={
            201: PayoutSerializer,
            **error_responses(
                VALIDATION_400, AUTH_401, (403, "FORBIDDEN"), (409, "IDEMPOTENCY_KEY_REUSED, INSUFFICIENT_BALANCE"),
                (422, "PAYOUT_POLICY_VIOLATION"), (429, "RATE_LIMITED"),
            ),
        },
    )
    def create(self, request, user_id="me"):
        owner = resolve_path_user(request.user, user_id, write=True)  # nobody requests for another user
        serializer = PayoutRequestSerializer(data=request.data)
        problems = [] if serializer.is_valid() else ValidationFailed.from_serializer(serializer)
        key = request.headers.get("Idempotency-Key")
        if key is not None and not _IDEMPOTENCY_KEY.match(key):
            problems.append(violation("Idempotency-Key", "Must be 1 to 255 visible ASCII characters."))
        if problems:
            raise ValidationFailed(problems)
        data = serializer.validated_data
        outcome = services.request_payout(
            user=owner, amount=data["amount"], method=data["method"], details=data["details"],
            idempotency_key=key, actor=Actor.of_user(request.user), render=render_payout,
        )
        response = HttpResponse(outcome.body, status=outcome.status, content_type="application/json")
        if outcome.replayed:
            response["Idempotent-Replayed"] = "true"
        return response

    @extend_schema(
        parameters=[STATUS_PARAM],
        responses={
            200: PayoutSerializer(many=True),
            **error_responses(VALIDATION_400, AUTH_401, (403, "FORBIDDEN"), (404, "NOT_FOUND")),
        },
    )
    def list(self, request, user_id="me"):
        query = QueryReader(request.query_params)
        status_filter = query.choice("status", selectors.STATUS_FILTER_VALUES)
        owner = resolve_path_user(request.user, user_id, before_lookup=query.validate_page)
        return paginated_response(request, selectors.list_payouts(status=status_filter, user_id=owner.pk),
                                  PayoutSerializer)


class PayoutViewSet(viewsets.ViewSet):
    """GET /payouts (admin), GET /payouts/{id} (owner or admin), PATCH /payouts/{id}/status (admin)."""

    admin_actions = {"list", "status"}
    lookup_url_kwarg = "payout_id"
    lookup_value_regex = "[^/]+"

    @extend_schema(
        parameters=[
            STATUS_PARAM,
            OpenApiParameter("user_id", OpenApiTypes.UUID),
            OpenApiParameter("start_date", OpenApiTypes.DATE),
            OpenApiParameter("end_date", OpenApiTypes.DATE),
        ],
        responses={200: PayoutSerializer(many=True), **error_responses(VALIDATION_400, AUTH_401, ADMIN_403)},
    )
    def list(self, request):
        query = QueryReader(request.query_params)
        status_filter = query.choice("status", selectors.STATUS_FILTER_VALUES)
        user_id = query.uuid("user_id")
        start_date, end_date = query.date_range("start_date", "end_date")
        query.pagination()
        query.done()
        payouts = selectors.list_payouts(status=status_filter, user_id=user_id, start_date=start_date,
                                         end_date=end_date)
        return paginated_response(request, payouts, PayoutSerializer)

    @extend_schema(responses={200: PayoutSerializer, **error_responses(AUTH_401, PAYOUT_404)})
    def retrieve(self, request, payout_id=None):
        return Response(PayoutSerializer(selectors.get_payout_for(payout_id, viewer=request.user)).data)

    @extend_schema(
        request=PayoutStatusChangeSerializer,
        responses={
            200: PayoutSerializer,
            **error_responses((400, "VALIDATION_ERROR, PAYOUT_INVALID_TRANSITION"), AUTH_401, ADMIN_403, PAYOUT_404),
        },
    )
    @action(detail=True, methods=["patch"], url_path="status")
    def status(self, request, payout_id=None):
        serializer = PayoutStatusChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payout = selectors.get_payout_for(payout_id, viewer=request.user)
        data = serializer.validated_data
        payout = services.change_payout_status(
            payout_id=payout.pk, target=data["status"], actor=Actor.of_user(request.user),
            reason=data.get("reason") or None, external_reference=data.get("external_reference") or None,
        )
        return Response(PayoutSerializer(payout).data)
