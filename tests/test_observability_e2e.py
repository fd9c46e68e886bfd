"""Issue 10 over real HTTP: /metrics of a gunicorn with two workers sums both workers' counts
(prometheus-client multiprocess mode), and LOG_FORMAT=json gives one JSON object per log line."""

import json
import threading

import pytest

from clicknback.testing import PROJECT_ROOT, metric_sample
from tests.e2e_server import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TOKEN = "e2e-metrics-token-0123456789abcdef"
PASSWORD = "Str0ng!Passw0rd"


def scrape(server: LiveServer) -> str:
    import urllib.request

    req = urllib.request.Request(server.base + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=15) as resp:
        assert resp.status == 200
        return resp.read().decode()


def processes_that_counted(metrics_dir) -> set[str]:
    # prometheus-client's files: counter_<process identifier>.db, one per process that counted something.
    return {path.name.removeprefix("counter_").removesuffix(".db") for path in metrics_dir.glob("counter_*.db")}


def test_metrics_of_two_gunicorn_workers_are_summed(transactional_db, tmp_path):
    metrics_dir = tmp_path / "metrics"
    server = LiveServer(extra_env={"METRICS_TOKEN": TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)})
    try:
        sent = 0
        lock = threading.Lock()

        def probe():
            nonlocal sent
            status, _, _ = server.request("GET", "/health/live")
            assert status == 200
            with lock:
                sent += 1

        # Fresh connections in parallel until both workers have answered some (the kernel picks the worker).
        for _ in range(40):
            threads = [threading.Thread(target=probe) for _ in range(6)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if len(processes_that_counted(metrics_dir)) >= 2:
                break
        assert len(processes_that_counted(metrics_dir)) >= 2, "one worker answered every request"

        text = scrape(server)

        # Every probe counted once, whichever worker answered it: the counts of both are summed.
        assert metric_sample(text, "clicknback_http_requests_total", route="/health/live", method="GET", status="200") == sent
        assert metric_sample(text, "clicknback_http_request_duration_seconds_count", route="/health/live",
                      status="200") == sent
        assert metric_sample(text, "clicknback_payouts", status="requested") == 0
        # The scrape itself is counted too (after it answered): the next scrape sees it.
        assert metric_sample(scrape(server), "clicknback_http_requests_total", route="/metrics", status="200") >= 1
        status, body, _ = server.request("GET", "/metrics")
        assert status == 401 and body["error"]["code"] == "INVALID_TOKEN"
    finally:
        server.stop()


def test_json_logs_give_one_object_per_line_with_the_request_facts(transactional_db):
    from accounts import services

    account = services.create_account(email="json-logs@example.com", password=PASSWORD, role="user")
    server = LiveServer(extra_env={"LOG_FORMAT": "json"})
    try:
        status, tokens, _ = server.request("POST", "/api/v1/auth/login",
                                           {"email": "json-logs@example.com", "password": PASSWORD})
        assert status == 200
        status, _, headers = server.request("GET", "/api/v1/users/me", token=tokens["access_token"],
                                            headers={"X-Request-ID": "json-log-probe-1"})
        assert status == 200 and headers["X-Request-ID"] == "json-log-probe-1"
        status, _, _ = server.request("GET", "/api/v1/users/me", headers={"X-Request-ID": "json-log-probe-2"})
        assert status == 401
    finally:
        server.stop()

    lines = [line for line in (PROJECT_ROOT / ".e2e-server.log").read_text().splitlines() if line.strip()]
    assert lines
    records = [json.loads(line) for line in lines]  # every line, gunicorn's own included, is one object
    for record in records:
        assert {"time", "level", "logger", "message", "request_id"} <= record.keys(), record
    assert any(r["logger"] == "gunicorn.error" and "Booting worker" in r["message"] for r in records)

    seen = next(r for r in records if r["request_id"] == "json-log-probe-1" and r["logger"] == "clicknback.access")
    assert seen["method"] == "GET" and seen["route"] == "/api/v1/users/me" and seen["path"] == "/api/v1/users/me"
    assert seen["status"] == 200 and seen["user_id"] == str(account.pk)
    assert isinstance(seen["duration_ms"], (int, float)) and seen["duration_ms"] >= 0
    refused = next(r for r in records if r["request_id"] == "json-log-probe-2" and r["logger"] == "clicknback.access")
    assert refused["status"] == 401 and refused["user_id"] is None
    # gunicorn's text access line is replaced by the app's JSON one.
    assert not any('"GET /api/v1/users/me HTTP/1.1"' in r["message"] for r in records)
