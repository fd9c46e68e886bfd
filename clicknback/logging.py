"""Request id propagation: a context variable read by the log filter and the 500 envelope."""

import contextvars
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
        request_id = getattr(getattr(record, "request", None), "request_id", None)
        record.request_id = request_id or _request_id.get()
        return True
