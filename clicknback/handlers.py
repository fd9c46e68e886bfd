"""Django-level error pages as the JSON envelope (api.md §0.3)."""

import sys

from django.http import JsonResponse

from clicknback import outage
from clicknback.errors import envelope, internal_error_body


def not_found(request, exception=None):
    return JsonResponse(envelope("NOT_FOUND", f"No route for {request.path}."), status=404)


def server_error(request):
    # Django calls this inside its `except`: an outage raised outside a view is still a 503.
    exc = sys.exc_info()[1]
    if outage.is_database_unavailable(exc):
        return outage.unavailable_response(request, exc)
    return JsonResponse(internal_error_body(), status=500)
