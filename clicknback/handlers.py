"""Django-level error pages as the JSON envelope (api.md §0.3)."""

from django.http import JsonResponse

from clicknback.errors import envelope, internal_error_body


def not_found(request, exception=None):
    return JsonResponse(envelope("NOT_FOUND", f"No route for {request.path}."), status=404)


def server_error(request):
    return JsonResponse(internal_error_body(), status=500)
