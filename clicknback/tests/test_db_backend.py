"""clicknback.postgresql: the per-request health check without a round trip (issue 7), and a
connection the server dropped is still noticed before a request uses it (R-225)."""

import time

import pytest
from django.db import connection, connections


@pytest.fixture
def own_connection(db):
    """A second connection to the test database, in autocommit (idle between statements, as a
    persistent connection is between requests)."""
    other = connections.create_connection("default")
    other.settings_dict["NAME"] = connection.settings_dict["NAME"]
    other.ensure_connection()
    yield other
    other.close()


def _last_statement_of(pid: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0]


def test_the_health_check_of_an_idle_connection_sends_nothing_to_the_server(own_connection):
    with own_connection.cursor() as cursor:
        cursor.execute("SELECT 42 AS marker")
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    for _ in range(3):
        assert own_connection.is_usable()
    assert _last_statement_of(pid) == "SELECT pg_backend_pid()"  # no SELECT 1 reached the server


def test_a_connection_the_server_terminated_fails_the_check_and_is_replaced_before_use(own_connection):
    with own_connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 5
    while own_connection.is_usable() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not own_connection.is_usable()

    # What Django does at the first query of a request with CONN_HEALTH_CHECKS: check, reconnect.
    own_connection.health_check_enabled = True
    own_connection.health_check_done = False
    with own_connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid


def test_after_an_error_the_full_check_still_runs(own_connection):
    own_connection.errors_occurred = True
    assert own_connection.is_usable()  # SELECT 1 answered
