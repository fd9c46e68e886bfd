"""R-222: no usable default secret (random per process with DEBUG, never a constant from the source),
no `ALLOWED_HOSTS=*` default, and behind HTTPS Secure cookies and HSTS. Settings are read at import, so
each case starts a fresh interpreter with its own environment."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from accounts.tests.factories import TEST_PASSWORD, AdminFactory

BASE_DIR = Path(__file__).resolve().parent.parent.parent
SECRET_32 = "s" * 32
SHOWN = ["SECRET_KEY", "JWT_SIGNING_KEY", "ALLOWED_HOSTS", "SECURE_PROXY_SSL_HEADER", "SESSION_COOKIE_SECURE",
         "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS"]
PRINT_SETTINGS = (
    "import json, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'clicknback.settings'; "
    "from django.conf import settings; "
    f"print(json.dumps({{name: getattr(settings, name) for name in {SHOWN!r}}}))"
)
SCRUBBED = {"SECRET_KEY", "JWT_SIGNING_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE", "ALLOWED_HOSTS",
            "TRUSTED_PROXY_COUNT", "SECURE_PROXY_SSL_HEADER", "SERVED_OVER_HTTPS", "SECURE_HSTS_SECONDS"}


def settings_of(**env) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    result = subprocess.run([sys.executable, "-c", PRINT_SETTINGS], env={**clean, **env}, cwd=BASE_DIR,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_with_debug_and_no_secrets_each_process_gets_random_ones_r222():
    first, second = settings_of(DEBUG="true"), settings_of(DEBUG="true")

    for name in ("SECRET_KEY", "JWT_SIGNING_KEY"):
        assert len(first[name]) >= 32
        assert first[name] != second[name]  # not a constant anyone could read in the source
    assert first["SECRET_KEY"] != first["JWT_SIGNING_KEY"]


def test_gunicorn_makes_the_debug_secrets_once_for_all_its_workers_r222():
    # Loaded by the master before it forks: the workers inherit one pair through the environment.
    script = ("import os, runpy; runpy.run_path('gunicorn.conf.py'); "
              "print(os.environ['SECRET_KEY'], os.environ['JWT_SIGNING_KEY'])")
    clean = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    result = subprocess.run([sys.executable, "-c", script], env={**clean, "DEBUG": "true"}, cwd=BASE_DIR,
                            capture_output=True, text=True, timeout=60)
    secret, jwt_key = result.stdout.split()
    assert len(secret) >= 32 and len(jwt_key) >= 32 and secret != jwt_key


def test_allowed_hosts_default_is_never_everything_r222():
    hosts = settings_of(SECRET_KEY=SECRET_32, JWT_SIGNING_KEY=SECRET_32)["ALLOWED_HOSTS"]
    assert "*" not in hosts and hosts


def test_served_over_plain_http_cookies_are_not_secure_and_no_hsts():
    shown = settings_of(SECRET_KEY=SECRET_32, JWT_SIGNING_KEY=SECRET_32)

    assert shown["SECURE_PROXY_SSL_HEADER"] is None
    assert not shown["SESSION_COOKIE_SECURE"] and not shown["CSRF_COOKIE_SECURE"]
    assert shown["SECURE_HSTS_SECONDS"] == 0


@pytest.mark.parametrize("env", [{"TRUSTED_PROXY_COUNT": "1"},
                                 {"SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto=https"}])
def test_behind_an_https_proxy_cookies_are_secure_and_hsts_is_on_r222(env):
    shown = settings_of(SECRET_KEY=SECRET_32, JWT_SIGNING_KEY=SECRET_32, **env)

    assert shown["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert shown["SESSION_COOKIE_SECURE"] and shown["CSRF_COOKIE_SECURE"]
    assert shown["SECURE_HSTS_SECONDS"] >= 31536000


def test_a_malformed_proxy_header_setting_refuses_to_start():
    clean = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    result = subprocess.run([sys.executable, "-c", PRINT_SETTINGS], cwd=BASE_DIR, capture_output=True, text=True,
                            env={**clean, "SECRET_KEY": SECRET_32, "JWT_SIGNING_KEY": SECRET_32,
                                 "SECURE_PROXY_SSL_HEADER": "https"}, timeout=60)
    assert result.returncode != 0 and "SECURE_PROXY_SSL_HEADER" in result.stderr


@pytest.mark.django_db
def test_an_https_request_through_the_proxy_gets_hsts_and_secure_session_cookies_r222(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = 31536000
    operator = AdminFactory()
    client = Client(HTTP_X_FORWARDED_PROTO="https")

    page = client.get("/admin/login/")
    response = client.post("/admin/login/", {"username": operator.email, "password": TEST_PASSWORD,
                                             "next": "/admin/"})

    assert page["Strict-Transport-Security"].startswith("max-age=31536000")
    assert response.status_code == 302
    assert response.cookies["sessionid"]["secure"] and response.cookies["csrftoken"]["secure"]
    # A plain-HTTP request (a health probe inside the network) gets no HSTS.
    assert "Strict-Transport-Security" not in Client().get("/health/live")
