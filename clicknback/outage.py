"""R-225: a database outage answers 503, not 500.

While PostgreSQL is unreachable (connection refused or reset, server shutting down, starting up or
restarting) every API endpoint answers 503 `SERVICE_UNAVAILABLE` in the envelope with `Retry-After`,
and the back-office a plain "temporarily unavailable" page. Each such request is logged once, at
WARNING, without a traceback. Django closes a connection that failed once the request ends
(`close_if_unusable_or_obsolete`), so the first request after the database is back reconnects.
"""

import logging
import sqlite3

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse

from clicknback.errors import envelope

logger = logging.getLogger("clicknback.outage")

RETRY_AFTER_SECONDS = 5
MESSAGE = "The database is temporarily unavailable; retry later."

# SQLSTATEs of a server that is going away or not yet there (class 08: connection exceptions).
_UNAVAILABLE_SQLSTATES = {"57P01", "57P02", "57P03"}  # admin shutdown, crash shutdown, cannot connect now
_SQLITE_UNAVAILABLE = ("database is locked", "unable to open database file")

_HTML = (
    "<!doctype html><html><head><title>Temporarily unavailable</title></head><body>"
    "<h1>Temporarily unavailable</h1><p>The ClickNBack back-office cannot reach its database right now. "
    f"Please try again in a few seconds.</p></body></html>"
)


def is_database_unavailable(exc: BaseException | None) -> bool:
    """True for errors that mean "no database right now", not for a failing statement (a deadlock,
    a constraint, a timeout of one query): those stay what they are."""
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return False
    cause = exc.__cause__ or exc
    if isinstance(cause, sqlite3.Error):
        return any(text in str(cause) for text in _SQLITE_UNAVAILABLE)
    if isinstance(exc, InterfaceError):
        return True  # "connection already closed": the server went away under an open connection
    sqlstate = getattr(cause, "sqlstate", None)
    # psycopg gives no SQLSTATE when there is no server to give one (refused, reset, closed, pool timeout).
    return sqlstate is None or sqlstate.startswith("08") or sqlstate in _UNAVAILABLE_SQLSTATES


def log_unavailable(request, exc: BaseException) -> None:
    first_line = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
    logger.warning("Database unavailable: %s %s answered 503 (%s)", request.method, request.path, first_line)


def _mark_logged(response):
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response._has_been_logged = True  # django.request would log every 5xx again, at ERROR
    return response


def api_body() -> dict:
    return envelope("SERVICE_UNAVAILABLE", MESSAGE, {"retry_after_seconds": RETRY_AFTER_SECONDS})


def unavailable_response(request, exc: BaseException):
    """The 503 for `request`: the JSON envelope on API paths, a plain page elsewhere (back-office)."""
    from clicknback.middleware import is_json_api_path

    log_unavailable(request, exc)
    if is_json_api_path(request.path):
        return _mark_logged(JsonResponse(api_body(), status=503))
    return _mark_logged(HttpResponse(_HTML, status=503, content_type="text/html; charset=utf-8"))


class DropUnavailableTracebacks(logging.Filter):
    """On `django.request`: a database outage that reached Django's last-resort 500 handler (raised
    outside a view) is answered 503 by `clicknback.handlers.server_error` and already logged at
    WARNING by it; its ERROR line with a traceback is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not is_database_unavailable(exc)
