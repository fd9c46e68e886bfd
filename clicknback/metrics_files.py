"""Where prometheus-client's multiprocess mode keeps each process's values; imported by gunicorn.conf.py
too, so it creates no metric (clicknback.metrics does)."""

import os
import socket

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


def process_identifier(pid: int | None = None) -> str:
    """Host and pid: containers sharing one metrics volume each have their own pid 1, 7, …, and the files
    of two processes must never collide. No "_": prometheus-client splits the file names on it."""
    return f"{socket.gethostname().replace('_', '-')}-{pid if pid is not None else os.getpid()}"
