"""Health probes (api.md §2): anonymous, outside /api/v1; and the Prometheus metrics."""

import hmac
import logging

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from clicknback import metrics
from clicknback.errors import envelope, method_not_allowed_body
from clicknback.outage import is_database_unavailable

logger = logging.getLogger("clicknback.health")

READY_TIMEOUT_MS = 2000


class LiveView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: inline_serializer("Alive", {"status": serializers.CharField()})}, auth=[])
    def get(self, request):
        return Response({"status": "alive"})


def database_answers() -> bool:
    """SELECT 1 within the R-213 timeout (statement timeout on PostgreSQL)."""
    try:
        # SET LOCAL ends with this transaction, so a timed-out probe leaves nothing on the connection.
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET LOCAL statement_timeout = %s", [READY_TIMEOUT_MS])
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True
    except Exception as exc:
        # an outage is expected operation, logged without a traceback; anything else keeps one.
        logger.warning("Readiness check failed: database not reachable (%s)", (str(exc).strip().splitlines() or [""])[0],
                       exc_info=not is_database_unavailable(exc))
        return False


class ReadyView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses={
            200: inline_serializer("Ready", {"status": serializers.CharField()}),
            503: inline_serializer(
                "Unavailable", {"status": serializers.CharField(), "error": serializers.DictField()}
            ),
        },
        auth=[],
    )
    def get(self, request):
        if database_answers():
            return Response({"status": "ready"})
        return Response(
            {
                "status": "unavailable",
                "error": {"code": "SERVICE_UNAVAILABLE", "message": "Database is not reachable.", "details": {}},
            },
            status=503,
        )


@csrf_exempt  # no cookie authenticates here: a POST is answered 405, not with the CSRF page
def metrics_view(request):
    """GET /metrics, Prometheus text format. Off (404, like an unknown route) unless METRICS_TOKEN is set;
    then only with `Authorization: Bearer <METRICS_TOKEN>`, else 401 INVALID_TOKEN."""
    token = settings.METRICS_TOKEN
    if not token:
        return JsonResponse(envelope("NOT_FOUND", f"No route for {request.path}."), status=404)
    if request.method not in ("GET", "HEAD"):
        response = JsonResponse(method_not_allowed_body(["GET"]), status=405)
        response["Allow"] = "GET, HEAD"
        return response
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), token.encode()):
        response = JsonResponse(envelope("INVALID_TOKEN", "A valid metrics bearer token is required."), status=401)
        response["WWW-Authenticate"] = "Bearer"
        return response
    body, content_type = metrics.render()
    response = HttpResponse(body, content_type=content_type)
    response["Cache-Control"] = "no-store"
    return response
