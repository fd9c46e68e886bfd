"""R-226: how much of an unread request body the server still reads (and discards) after answering
early, so the client receives the answer on a connection that stays usable. Past this, the answer
says `Connection: close` and the rest is not read. Shared by the middleware and gunicorn.conf.py
(which must not import Django)."""

EARLY_ANSWER_DRAIN_BYTES = 1024 * 1024


def content_length(value) -> int:
    """The declared body length; 0 when absent or not a number (Django reads nothing then)."""
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0
