"""Request id propagation (a context variable read by the log filter and the 500 envelope) and the JSON
log format of LOG_FORMAT=json."""

import contextvars
import datetime
import json
import logging

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def current_request_id() -> str:
    return _request_id.get()


def bind_request_id(value: str) -> contextvars.Token:
    return _request_id.set(value)


def reset_request_id(token: contextvars.Token) -> None:
    _request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record so the formatter can print it."""

    def filter(self, record: logging.LogRecord) -> bool:
        # django.request logs 4xx/5xx after the middleware has unbound the id; the record carries the request.
        # A record may name its request itself (the access line does, via `extra`).
        request_id = getattr(record, "request_id", None) or getattr(getattr(record, "request", None), "request_id", None)
        record.request_id = request_id or _request_id.get()
        return True


# Request facts the access line carries (RequestObservationMiddleware passes them as `extra`).
ACCESS_FIELDS = ("method", "route", "path", "status", "duration_ms", "user_id")


class JsonFormatter(logging.Formatter):
    """LOG_FORMAT=json: one JSON object per line — time, level, logger, message, request_id, and for
    request lines method, route, path, status, duration_ms and user_id; a traceback goes in `exception`."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or _request_id.get(),
        }
        for name in ACCESS_FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        # default=str: a stray Decimal or UUID in a message argument never breaks the log line.
        return json.dumps(line, default=str)

    def formatTime(self, record, datefmt=None) -> str:  # noqa: N802 — logging's name
        moment = datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
