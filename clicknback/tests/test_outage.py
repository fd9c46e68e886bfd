"""R-225 in-process: which database errors mean "no database right now", and how each layer answers
them (DRF views, the back-office, Django's last-resort handler). tests/test_db_outage.py proves it
against a real PostgreSQL that is stopped and started again under a real gunicorn."""

import logging
import sqlite3
from unittest import mock

import psycopg
import psycopg.errors
import pytest
from django.db import InterfaceError, OperationalError
from django.test import Client, RequestFactory

from accounts import services as account_services
from accounts.tests.factories import TEST_PASSWORD
from clicknback import handlers, outage
from clicknback.testing import error_of

pytestmark = pytest.mark.django_db


def wrapped(cause: BaseException, django_class=OperationalError) -> BaseException:
    """The error as Django raises it: its own class, the driver's error as __cause__."""
    try:
        try:
            raise cause
        except Exception as inner:
            raise django_class(*inner.args) from inner
    except django_class as exc:
        return exc


@pytest.mark.parametrize("error", [
    wrapped(psycopg.OperationalError("connection failed: Connection refused")),
    wrapped(psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly")),
    wrapped(psycopg.errors.AdminShutdown("terminating connection due to administrator command")),
    wrapped(psycopg.errors.CannotConnectNow("the database system is starting up")),
    wrapped(psycopg.errors.lookup("08006")("connection failure")),
    wrapped(psycopg.InterfaceError("the connection is closed"), InterfaceError),
    wrapped(sqlite3.OperationalError("database is locked")),
], ids=["refused", "reset", "admin-shutdown", "starting-up", "class-08", "closed", "sqlite-locked"])
def test_outages_are_recognised(error):
    assert outage.is_database_unavailable(error)


@pytest.mark.parametrize("error", [
    wrapped(psycopg.errors.DeadlockDetected("deadlock detected")),
    wrapped(psycopg.errors.SerializationFailure("could not serialize access")),
    wrapped(psycopg.errors.QueryCanceled("canceling statement due to statement timeout")),
    wrapped(sqlite3.OperationalError("no such table: x")),
    RuntimeError("not a database error"),
    None,
], ids=["deadlock", "serialization", "statement-timeout", "sqlite-schema", "runtime", "none"])
def test_failing_statements_are_not_outages(error):
    assert not outage.is_database_unavailable(error)


REFUSED = wrapped(psycopg.OperationalError("connection failed: connection to server at \"127.0.0.1\", "
                                           "port 1 failed: Connection refused"))


def _outage_logs(caplog):
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_an_api_call_during_an_outage_is_503_with_retry_after_logged_once_without_traceback(api_client, caplog):
    caplog.set_level(logging.INFO)
    with mock.patch.object(account_services, "login", side_effect=REFUSED):
        response = api_client.post("/api/v1/auth/login", {"email": "a@example.com", "password": TEST_PASSWORD},
                                   format="json")

    error = error_of(response, 503, "SERVICE_UNAVAILABLE")
    assert error["details"] == {"retry_after_seconds": outage.RETRY_AFTER_SECONDS}
    assert response["Retry-After"] == str(outage.RETRY_AFTER_SECONDS)
    [record] = _outage_logs(caplog)
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "POST /api/v1/auth/login" in record.getMessage() and "Connection refused" in record.getMessage()


def test_other_database_errors_stay_a_500(api_client, caplog):
    deadlock = wrapped(psycopg.errors.DeadlockDetected("deadlock detected"))
    with mock.patch.object(account_services, "login", side_effect=deadlock):
        response = api_client.post("/api/v1/auth/login", {"email": "a@example.com", "password": TEST_PASSWORD},
                                   format="json")
    error_of(response, 500, "INTERNAL_SERVER_ERROR")


def test_the_back_office_during_an_outage_is_a_plain_503_page(office, caplog):
    caplog.set_level(logging.INFO)
    with mock.patch("django.contrib.admin.sites.AdminSite.get_app_list", side_effect=REFUSED):
        response = office.get("/admin/")

    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert response["Retry-After"] == str(outage.RETRY_AFTER_SECONDS)
    assert b"Temporarily unavailable" in response.content
    [record] = _outage_logs(caplog)
    assert record.levelno == logging.WARNING and record.exc_info is None


@pytest.mark.parametrize("path, content_type", [("/api/v1/users/me", "application/json"),
                                                ("/admin/", "text/html")])
def test_an_outage_raised_outside_a_view_is_still_a_503(path, content_type, caplog):
    # Django's last resort (an error in a middleware): handler500 is called inside the `except`.
    request = RequestFactory().get(path)
    try:
        raise REFUSED
    except OperationalError:
        response = handlers.server_error(request)
        dropped = not outage.DropUnavailableTracebacks().filter(
            logging.LogRecord("django.request", logging.ERROR, "", 0, "Internal Server Error", None,
                              __import__("sys").exc_info())
        )

    assert response.status_code == 503 and response["Content-Type"].startswith(content_type)
    assert response["Retry-After"] == str(outage.RETRY_AFTER_SECONDS)
    assert dropped  # Django's own ERROR line with the traceback is filtered out
