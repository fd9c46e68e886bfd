"""Starts the real server (gunicorn) on a free loopback port against the test database."""

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from clicknback.testing import PROJECT_ROOT, manage_py_env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    def __init__(self, extra_env: dict | None = None, log_name: str = ".e2e-server.log", workers: int = 2):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = manage_py_env(**{"THROTTLING_ENABLED": "false", **(extra_env or {})})
        self.log_path = PROJECT_ROOT / log_name
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "clicknback.wsgi:application", "-c", "gunicorn.conf.py",
             "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers)],
            cwd=PROJECT_ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited early: {self.log_path.read_text()[-2000:]}")
            try:
                if self.request("GET", "/health/ready")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not become ready")

    def request(self, method: str, path: str, body=None, token: str | None = None, headers=None,
                timeout: float = 15):
        """(status, parsed JSON body or None, headers) — errors are answers too, not exceptions; a
        transport failure (refused, reset, no answer within `timeout` s) raises OSError.
        A `bytes` body is sent exactly as given (signed webhooks); `headers` may replace Content-Type."""
        data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                raw, status, hdrs = resp.read(), resp.status, resp.headers
        except urllib.error.HTTPError as err:
            raw, status, hdrs = err.read(), err.code, err.headers
        return status, (json.loads(raw) if raw else None), hdrs

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
