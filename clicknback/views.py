"""Health probes (api.md §2): anonymous, outside /api/v1."""

import logging

from django.db import connection, transaction
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

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
