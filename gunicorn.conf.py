"""Gunicorn settings shared by `make run` and the Docker image.

Every value comes from the environment so one file serves both; `make run` passes --bind itself.
"""

import os
import secrets
import shutil
import sys
import tempfile

# The project's modules (below, and the JSON log formatter) from any working directory; no Django here.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from clicknback.http_limits import EARLY_ANSWER_DRAIN_BYTES, content_length  # noqa: E402
from clicknback.metrics_files import MULTIPROC_DIR_ENV, process_identifier  # noqa: E402


def _int_from_env(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _default_workers() -> int:
    # One gthread worker per core (at least 2): measured equal to 2 × cores + 1 in throughput
    # (bench/README.md) with fewer database connections and fewer concurrent Argon2 hashes.
    return max(2, os.cpu_count() or 1)


# with DEBUG on and no secrets, the settings would make random ones per process — one per
# worker, so a token signed by one worker would fail on the next. Made here, once, in the master,
# the workers inherit them. (With DEBUG off the settings refuse to start without them, R-214.)
if os.environ.get("DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}:
    for _name in ("SECRET_KEY", "JWT_SIGNING_KEY"):
        if len(os.environ.get(_name, "").encode()) < 32:
            os.environ[_name] = secrets.token_urlsafe(48)

wsgi_app = "clicknback.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

worker_class = "gthread"
workers = _int_from_env("GUNICORN_WORKERS", _default_workers())
threads = _int_from_env("GUNICORN_THREADS", 4)
timeout = _int_from_env("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int_from_env("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int_from_env("GUNICORN_KEEPALIVE", 5)

# Logs to stdout/stderr; the access line carries the X-Request-ID the app echoes.
# With LOG_FORMAT=json the app writes the request line itself (clicknback.access, with route and user
# id), so gunicorn's text access line is off and its own messages are JSON too.
_json_logs = os.environ.get("LOG_FORMAT", "").strip().lower() == "json"
accesslog = None if _json_logs else "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s'
if _json_logs:
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "clicknback.logging.JsonFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"level": "INFO", "handlers": []},
        "loggers": {"gunicorn.error": {"level": loglevel.upper(), "handlers": ["stderr"], "propagate": False}},
    }

# Metrics of several workers (prometheus-client multiprocess mode): every process writes its values
# into PROMETHEUS_MULTIPROC_DIR and /metrics sums them. Not given: a fresh directory for this server,
# created here (the master, before any worker forks) and removed when it exits. A given directory is
# left as it is: job processes may write into it too (docker-compose.yml shares it as a volume).
_own_metrics_dir = None
if not os.environ.get(MULTIPROC_DIR_ENV):
    _own_metrics_dir = tempfile.mkdtemp(prefix="clicknback-metrics-")
    os.environ[MULTIPROC_DIR_ENV] = _own_metrics_dir
else:
    os.makedirs(os.environ[MULTIPROC_DIR_ENV], exist_ok=True)


def on_exit(server):
    # The master's exit hook (not atexit: the forked workers would run that too, and remove the
    # directory under their siblings).
    if _own_metrics_dir:
        shutil.rmtree(_own_metrics_dir, ignore_errors=True)


def child_exit(server, worker):
    """A worker is gone: drop its live gauges (prometheus-client's bookkeeping for dead processes)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(process_identifier(worker.pid))


# Gunicorn's control socket (gunicornc) defaults to one path per user, which several instances
# (make run, e2e tests, bench) would share; off unless GUNICORN_CONTROL_SOCKET names a path.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket


def pre_request(worker, req):
    """R-226: a body larger than the application will drain after an early answer (a 413 decided from
    Content-Length) is not read: the answer must then say `Connection: close`, or the client would
    send its next request on a connection gunicorn is about to drop."""
    declared = next((value for name, value in req.headers if name == "CONTENT-LENGTH"), None)
    if content_length(declared) > EARLY_ANSWER_DRAIN_BYTES:
        req.must_close = True
