"""LOG_FORMAT (issue 10): json gives one JSON object per line (level, logger, message, request_id, and for
request lines method, route, status, duration and user id); the default stays readable text."""

import json
import logging
import subprocess
import sys

import pytest

from clicknback.logging import JsonFormatter, RequestIdFilter, bind_request_id, reset_request_id
from clicknback.testing import PROJECT_ROOT, manage_py_env


def formatted(record: logging.LogRecord) -> dict:
    RequestIdFilter().filter(record)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    return json.loads(line)


def make_record(message, *args, level=logging.INFO, exc_info=None, **extra) -> logging.LogRecord:
    record = logging.LogRecord("clicknback.test", level, __file__, 1, message, args, exc_info)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_a_plain_line_carries_level_logger_message_and_the_bound_request_id():
    token = bind_request_id("req-123")
    try:
        line = formatted(make_record("payout %s paid", "p-1", level=logging.WARNING))
    finally:
        reset_request_id(token)
    assert line["level"] == "WARNING" and line["logger"] == "clicknback.test"
    assert line["message"] == "payout p-1 paid" and line["request_id"] == "req-123"
    assert line["time"].endswith("Z")
    assert "method" not in line and "status" not in line


def test_a_multi_line_message_and_its_traceback_stay_on_one_line():
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        record = make_record("failed:\n%s", "details", level=logging.ERROR, exc_info=sys.exc_info())
    line = formatted(record)
    assert line["message"] == "failed:\ndetails"
    assert "ValueError: boom" in line["exception"] and "Traceback" in line["exception"]


@pytest.mark.django_db
def test_the_request_line_has_method_route_status_duration_and_user_id(user_client, caplog):
    caplog.set_level(logging.INFO, logger="clicknback.access")
    response = user_client.get("/api/v1/users/me", HTTP_X_REQUEST_ID="log-probe-7")
    assert response.status_code == 200

    [record] = [r for r in caplog.records if r.name == "clicknback.access"]
    line = formatted(record)
    assert line["request_id"] == "log-probe-7"
    assert line["method"] == "GET" and line["route"] == "/api/v1/users/me" and line["status"] == 200
    assert line["user_id"] == str(user_client.account.pk)
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0


@pytest.mark.django_db
def test_an_anonymous_request_line_has_no_user_id(api_client, caplog):
    caplog.set_level(logging.INFO, logger="clicknback.access")
    assert api_client.get("/api/v1/users/me").status_code == 401
    [record] = [r for r in caplog.records if r.name == "clicknback.access"]
    assert formatted(record)["user_id"] is None and formatted(record)["status"] == 401


def run_manage_py(*args, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          env=manage_py_env(**env), timeout=120)


def test_log_format_json_turns_every_log_line_into_json():
    script = ("import logging; logging.getLogger('clicknback.probe').warning('hello %s', 'json')")
    result = run_manage_py("shell", "-c", script, LOG_FORMAT="json")
    assert result.returncode == 0, result.stderr
    [line] = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert line["message"] == "hello json" and line["level"] == "WARNING" and line["logger"] == "clicknback.probe"


def test_the_default_log_format_stays_readable_text():
    script = "import logging; logging.getLogger('clicknback.probe').warning('hello text')"
    result = run_manage_py("shell", "-c", script)
    assert result.returncode == 0, result.stderr
    assert "WARNING [-] clicknback.probe: hello text" in result.stderr
    assert not result.stderr.lstrip().startswith("{")


def test_an_unknown_log_format_refuses_to_start():
    result = run_manage_py("check", LOG_FORMAT="xml")
    assert result.returncode != 0
    assert "LOG_FORMAT must be 'text' or 'json'" in result.stderr
