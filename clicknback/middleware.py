"""Cross-cutting HTTP behaviour that must hold before (or outside) DRF: request ids, body size,
and the JSON envelope for responses Django produces itself (unknown routes, crashes)."""

import functools
import logging
import re
import time
import uuid

from django.conf import settings
from django.http import JsonResponse, UnreadablePostError

from clicknback import metrics
from clicknback.errors import envelope, internal_error_body, payload_too_large_body
from clicknback.http_limits import EARLY_ANSWER_DRAIN_BYTES, content_length
from clicknback.logging import bind_request_id, reset_request_id

logger = logging.getLogger("clicknback.request")
access_logger = logging.getLogger("clicknback.access")

# only ids of this shape are echoed, so a client cannot inject text into our logs.
_REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,128}$")  # fullmatch: "$" alone accepts "id\n"

# Pages that are not part of the JSON API keep Django's own behaviour (api.md §0.6).
_NON_API_PREFIXES = ("/admin/", "/admin", "/docs", "/static/")


def is_json_api_path(path: str) -> bool:
    return not path.startswith(_NON_API_PREFIXES)


class RequestIdMiddleware:
    """Accepts or generates X-Request-ID, binds it to every log line and echoes it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID_PATTERN.fullmatch(incoming) else str(uuid.uuid4())
        request.request_id = request_id
        token = bind_request_id(request_id)
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            return response
        finally:
            reset_request_id(token)


# The route of a request no URL pattern matched: one label, whatever the path (bounded cardinality).
UNMATCHED_ROUTE = "<unmatched>"


def route_of(request) -> str:
    """The URL pattern that answered, as `/api/v1/purchases/<purchase_id>`: never the raw path."""
    match = getattr(request, "resolver_match", None)
    if match is None or not match.route:
        return UNMATCHED_ROUTE
    return readable_route(match.route)


@functools.lru_cache(maxsize=512)
def readable_route(pattern: str) -> str:
    # "api/v1/^purchases/(?P<purchase_id>[^/]+)/?$" → "/api/v1/purchases/<purchase_id>"
    route = _NAMED_GROUP.sub(r"<\1>", pattern)
    for noise in ("^", "$", r"\Z", "/?"):
        route = route.replace(noise, "")
    return "/" + route.lstrip("/")


_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def user_id_of(request) -> str | None:
    # DRF copies the user it authenticated onto the Django request; the admin's comes from the session.
    try:
        user = getattr(request, "user", None)
        if user is not None and getattr(user, "is_authenticated", False):
            return str(user.pk)
    except Exception:  # a session read during a database outage: the line still gets written
        pass
    return None


class RequestObservationMiddleware:
    """Per request: the metrics (count and latency by route template and status) and one access log line
    with method, route, path, status, duration and user id (the JSON logs' request line)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        seconds = time.perf_counter() - started
        route = route_of(request)
        metrics.request_finished(method=request.method, route=route, status=response.status_code, seconds=seconds)
        if access_logger.isEnabledFor(logging.INFO):
            duration_ms = round(seconds * 1000, 1)
            access_logger.info(
                "%s %s %s %sms", request.method, request.path, response.status_code, duration_ms,
                extra={"request_id": getattr(request, "request_id", None), "method": request.method, "route": route,
                       "path": request.path, "status": response.status_code, "duration_ms": duration_ms,
                       "user_id": user_id_of(request)},
            )
        return response


class BodySizeLimitMiddleware:
    """413 from Content-Length before routing, for every route (api.md §0.6).

    R-226: whatever the answer, a body the application did not read is read and discarded (up to
    EARLY_ANSWER_DRAIN_BYTES) before the answer leaves, so the client gets it on a keep-alive
    connection that still works. A larger body is not read: gunicorn.conf.py's `pre_request`
    makes that answer say `Connection: close`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.MAX_REQUEST_BODY_BYTES
        length = content_length(request.META.get("CONTENT_LENGTH"))
        if length > limit:
            response = JsonResponse(payload_too_large_body(limit), status=413)
        else:
            response = self.get_response(request)
        if 0 < length <= EARLY_ANSWER_DRAIN_BYTES:
            discard_unread_body(request)
        return response


def discard_unread_body(request) -> None:
    """Read what is left of the body (Django's stream stops at Content-Length) and drop it."""
    try:
        while request.read(65536):
            pass
    except (OSError, UnreadablePostError):
        pass  # the client went away: nothing to keep the connection for


class JsonErrorPagesMiddleware:
    """Django's own 404/500 pages become the JSON envelope on API paths, even with DEBUG on."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code == 404
            and is_json_api_path(request.path)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return JsonResponse(envelope("NOT_FOUND", f"No route for {request.path}."), status=404)
        return response

    def process_exception(self, request, exception):
        from clicknback import outage  # imports is_json_api_path from here

        if outage.is_database_unavailable(exception):
            return outage.unavailable_response(request, exception)  # R-225, back-office included
        if not is_json_api_path(request.path):
            return None
        logger.exception("Unhandled error on %s %s", request.method, request.path)
        return JsonResponse(internal_error_body(), status=500)


