"""HTTP entry points of feature flags (api.md §11), admin only."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from clicknback.audit.services import Actor
from clicknback.errors import ValidationFailed, violation
from clicknback.flags import policies, selectors, services
from clicknback.flags.models import ScopeType
from clicknback.flags.serializers import FeatureFlagSerializer, FlagEvaluationSerializer, FlagSetSerializer
from clicknback.pagination import paginated_response
from clicknback.query import QueryReader
from clicknback.schema import ADMIN_403, AUTH_401, VALIDATION_400, error_responses

SCOPE_ID_REQUIRED_422 = (422, "FEATURE_FLAG_SCOPE_ID_REQUIRED")
KEY_PARAM = OpenApiParameter(
    "key", OpenApiTypes.STR, OpenApiParameter.PATH, pattern=r"^[a-z][a-z0-9_]*$",
    description="1–100 characters (R-162); any other value is 400 VALIDATION_ERROR on field `key`.",
)
SCOPE_TYPE_PARAM = OpenApiParameter("scope_type", OpenApiTypes.STR, enum=ScopeType.values)
SCOPE_ID_PARAM = OpenApiParameter("scope_id", OpenApiTypes.UUID)


def _key_violations(key, field: str = "key") -> list[dict]:
    problem = policies.key_problem(key)
    return [violation(field, problem)] if problem else []


class FeatureFlagViewSet(viewsets.ViewSet):
    admin_actions = {"list", "update", "destroy", "evaluate"}
    lookup_url_kwarg = "key"
    lookup_value_regex = "[^/]+"  # a bad key reaches the view and answers 400 after the role check

    @extend_schema(
        parameters=[KEY_PARAM],
        request=FlagSetSerializer,
        responses={
            200: FeatureFlagSerializer,
            **error_responses(VALIDATION_400, AUTH_401, ADMIN_403, SCOPE_ID_REQUIRED_422),
        },
    )
    def update(self, request, key=None):
        serializer = FlagSetSerializer(data=request.data)  # reading the body first: 415 before 400
        problems = _key_violations(key)
        if not serializer.is_valid():
            problems += ValidationFailed.from_serializer(serializer)
        if problems:
            raise ValidationFailed(problems)
        flag, _ = services.set_flag(key=key, **serializer.validated_data, actor=Actor.of_user(request.user))
        return Response(FeatureFlagSerializer(flag).data)

    @extend_schema(
        parameters=[
            KEY_PARAM,
            OpenApiParameter("scope_type", OpenApiTypes.STR, enum=ScopeType.values, required=True),
            OpenApiParameter("scope_id", OpenApiTypes.UUID, description="required for merchant/user"),
        ],
        responses={
            204: None,
            **error_responses(VALIDATION_400, AUTH_401, ADMIN_403, (404, "FEATURE_FLAG_NOT_FOUND"),
                              SCOPE_ID_REQUIRED_422),
        },
    )
    def destroy(self, request, key=None):
        query = QueryReader(request.query_params)
        query.violations += _key_violations(key)
        if "scope_type" not in request.query_params:
            # Decision of api.md §11: mandatory, so a global flag is never deleted by omission.
            query.violations.append(violation("scope_type", "This query parameter is required."))
        scope_type = query.choice("scope_type", ScopeType.values)
        scope_id = query.uuid("scope_id")
        if scope_type == ScopeType.GLOBAL and scope_id is not None:
            query.violations.append(violation("scope_id", "Must be absent when scope_type is global."))
        query.done()
        services.delete_flag(key=key, scope_type=scope_type, scope_id=scope_id, actor=Actor.of_user(request.user))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        parameters=[
            OpenApiParameter("key", OpenApiTypes.STR, description="exact key"),
            SCOPE_TYPE_PARAM,
            SCOPE_ID_PARAM,
        ],
        responses={200: FeatureFlagSerializer(many=True), **error_responses(VALIDATION_400, AUTH_401, ADMIN_403)},
    )
    def list(self, request):
        query = QueryReader(request.query_params)
        key = request.query_params.get("key")
        if key is not None:
            query.violations += _key_violations(key)
        scope_type = query.choice("scope_type", ScopeType.values)
        scope_id = query.uuid("scope_id")
        query.pagination()
        query.done()
        flags = selectors.list_flags(key=key, scope_type=scope_type, scope_id=scope_id)
        return paginated_response(request, flags, FeatureFlagSerializer)

    @extend_schema(
        parameters=[
            KEY_PARAM,
            OpenApiParameter("scope_type", OpenApiTypes.STR, enum=ScopeType.values, default=ScopeType.GLOBAL),
            OpenApiParameter("scope_id", OpenApiTypes.UUID,
                             description="required for merchant/user; ignored for global"),
        ],
        responses={
            200: FlagEvaluationSerializer,
            **error_responses(VALIDATION_400, AUTH_401, ADMIN_403, SCOPE_ID_REQUIRED_422),
        },
    )
    @action(detail=True, methods=["get"], url_path="evaluate")
    def evaluate(self, request, key=None):
        query = QueryReader(request.query_params)
        query.violations += _key_violations(key)
        scope_type = query.choice("scope_type", ScopeType.values) or ScopeType.GLOBAL
        scope_id = query.uuid("scope_id")
        query.done()
        policies.ensure_scope_id_present(scope_type, scope_id)
        if scope_type == ScopeType.GLOBAL:
            scope_id = None
        return Response({"key": key, "enabled": selectors.is_enabled(key, scope_type, scope_id)})
