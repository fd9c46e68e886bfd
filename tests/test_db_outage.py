"""R-225 for real: gunicorn on a PostgreSQL cluster of this test's own, which the test stops and starts.

While the database is down, the API answers the 503 envelope with Retry-After (login and an
authenticated read), within the connect timeout, and the back-office a plain 503 page; each is logged
once at WARNING without a traceback. Once it is back, the very next requests work — no restart."""

import http.cookiejar
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from clicknback.testing import PROJECT_ROOT, ThrowawayCluster, manage_py_env, postgres_bindir
from tests.e2e_server import LiveServer

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(postgres_bindir() is None, reason="PostgreSQL server binaries not found")]

PASSWORD = "Str0ng!Passw0rd"
LOG_NAME = ".e2e-outage.log"


@pytest.fixture
def cluster():
    own = ThrowawayCluster()  # removes what it made if it cannot start
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=PROJECT_ROOT,
                       env=manage_py_env(DATABASE_URL=own.url), check=True, timeout=300)
        yield own
    finally:
        own.destroy()


@pytest.fixture(params=["persistent", "pool"])
def server(request, cluster):
    # DB_CONNECT_TIMEOUT bounds how long a request may wait for a database that does not answer.
    pool = "true" if request.param == "pool" else "false"
    live = LiveServer({"DATABASE_URL": cluster.url, "DB_CONNECT_TIMEOUT": "2", "DB_POOL": pool},
                      log_name=LOG_NAME)
    yield live
    live.stop()


def admin_login_post(server) -> tuple[int, dict, str]:
    """GET the back-office login form (no database needed without a session), then POST it."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(server.base + "/admin/login/", timeout=15).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "username": "ops@example.com",
                                   "password": PASSWORD, "next": "/admin/"}).encode()
    request = urllib.request.Request(server.base + "/admin/login/", data=form,
                                     headers={"Referer": server.base + "/admin/login/"})
    try:
        with opener.open(request, timeout=15) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def assert_503_envelope(answer):
    status, body, headers = answer
    assert status == 503, (status, body)
    assert body["error"]["code"] == "SERVICE_UNAVAILABLE", body
    assert set(body["error"]) == {"code", "message", "details"}
    assert int(headers["Retry-After"]) >= 1
    assert body["error"]["details"]["retry_after_seconds"] == int(headers["Retry-After"])


def test_a_database_outage_is_503_with_retry_after_and_the_next_request_after_it_works_r225(cluster, server):
    status, _, _ = server.request("POST", "/api/v1/users", {"email": "shopper@example.com", "password": PASSWORD})
    assert status == 201
    status, tokens, _ = server.request("POST", "/api/v1/auth/login",
                                       {"email": "shopper@example.com", "password": PASSWORD})
    assert status == 200
    log_before = server.log_path.read_text()

    cluster.stop()
    try:
        for _ in range(3):  # both workers, several threads: each answers the same
            started = time.monotonic()
            assert_503_envelope(server.request("POST", "/api/v1/auth/login",
                                               {"email": "shopper@example.com", "password": PASSWORD}))
            assert_503_envelope(server.request("GET", "/api/v1/users/me", token=tokens["access_token"]))
            assert_503_envelope(server.request("POST", "/api/v1/users",
                                               {"email": "late@example.com", "password": PASSWORD}))
            assert time.monotonic() - started < 10  # no hang: within the connect timeout
        status, headers, page = admin_login_post(server)
        assert status == 503 and "Temporarily unavailable" in page
        assert headers["Content-Type"].startswith("text/html") and int(headers["Retry-After"]) >= 1
    finally:
        cluster.start()

    # Back: the next requests work, on every worker, without a restart.
    for _ in range(6):
        status, fresh, _ = server.request("POST", "/api/v1/auth/login",
                                          {"email": "shopper@example.com", "password": PASSWORD})
        assert status == 200, fresh
        status, me, _ = server.request("GET", "/api/v1/users/me", token=fresh["access_token"])
        assert status == 200 and me["email"] == "shopper@example.com"

    outage_log = server.log_path.read_text()[len(log_before):]
    warnings = [line for line in outage_log.splitlines() if "Database unavailable" in line]
    assert len(warnings) == 10, outage_log[-3000:]  # 9 API requests + 1 back-office: once each
    assert all(" WARNING " in line for line in warnings)
    assert "Traceback" not in outage_log and " ERROR " not in outage_log, outage_log[-3000:]
