"""The back-office as a whole (admin.md §1, §2 Audit log / Refresh-token records), driven through
Django's test client and the real URLconf."""

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext

from accounts import services as account_services
from accounts.models import RefreshTokenRecord
from accounts.tests.factories import TEST_PASSWORD, AdminFactory, UserFactory
from clicknback.audit import services as audit
from clicknback.audit.models import AuditAction, AuditLog
from clicknback.audit.services import Actor
from clicknback.testing import changelist_columns
from merchants.tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db

AUDIT_LIST = "/admin/audit/auditlog/"
TOKEN_LIST = "/admin/accounts/refreshtokenrecord/"


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


# --- who may log in ----------------------------------------------------------------------


def test_a1_active_admin_logs_in_with_email_in_any_case():
    # the back-office login compares lower(email).
    AdminFactory(email="Ops.Lead@Example.com")
    client = Client()

    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "ops.lead@EXAMPLE.COM", "password": TEST_PASSWORD, "next": "/admin/"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert _logged_in(client)
    assert client.get("/admin/").status_code == 200


def test_a1_wrong_password_of_an_admin_is_refused():
    admin_user = AdminFactory()
    client = Client()

    response = client.post("/admin/login/", {"username": admin_user.email, "password": TEST_PASSWORD + "x"})

    assert response.status_code == 200
    assert response.context["form"].errors
    assert not _logged_in(client)


def test_a1_regular_user_with_correct_password_is_refused():
    regular = UserFactory()
    client = Client()

    response = client.post("/admin/login/", {"username": regular.email, "password": TEST_PASSWORD})

    assert response.status_code == 200
    assert "staff account" in " ".join(response.context["form"].non_field_errors())
    assert not _logged_in(client)
    assert client.get("/admin/").status_code == 302


def test_a1_inactive_admin_with_correct_password_is_refused():
    inactive = AdminFactory(is_active=False)
    client = Client()

    response = client.post("/admin/login/", {"username": inactive.email, "password": TEST_PASSWORD})

    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert not _logged_in(client)


@pytest.mark.parametrize("path", ["/admin/", "/admin/accounts/user/", "/admin/merchants/merchant/", AUDIT_LIST])
def test_a1_logged_in_non_admin_is_sent_to_the_login_page(path):
    client = Client()
    client.force_login(UserFactory())

    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a1_admin_deactivated_after_login_loses_the_back_office(office, operator):
    from accounts.models import User

    User.objects.filter(pk=operator.pk).update(is_active=False)

    response = office.get("/admin/accounts/user/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a1_admin_demoted_after_login_loses_the_back_office(office, operator):
    # a role change takes effect on the next request.
    from accounts.models import Role, User

    User.objects.filter(pk=operator.pk).update(role=Role.USER)

    response = office.get("/admin/merchants/merchant/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


# --- no deletes --------------------------------------------------------------------------


def _request_as(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def test_a3_no_model_offers_delete_or_bulk_delete(operator):
    # has_delete_permission is false and "delete selected" is gone, except for feature flags.
    request = _request_as(operator)
    checked = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.model_name == "featureflag":
            continue
        assert not model_admin.has_delete_permission(request), model
        assert "delete_selected" not in model_admin.get_actions(request), model
        checked.append(model._meta.label)
    assert {"accounts.User", "accounts.RefreshTokenRecord", "merchants.Merchant", "audit.AuditLog"} <= set(checked)


def test_a3_delete_page_of_a_merchant_is_forbidden_and_nothing_is_deleted(office):
    merchant = MerchantFactory()

    assert office.get(f"/admin/merchants/merchant/{merchant.pk}/delete/").status_code == 403
    assert office.post(f"/admin/merchants/merchant/{merchant.pk}/delete/", {"post": "yes"}).status_code == 403

    assert type(merchant).objects.filter(pk=merchant.pk).exists()


def test_a3_delete_page_of_a_user_is_forbidden_and_nothing_is_deleted(office):
    from accounts.models import User

    regular = UserFactory()

    assert office.post(f"/admin/accounts/user/{regular.pk}/delete/", {"post": "yes"}).status_code == 403

    assert User.objects.filter(pk=regular.pk).exists()


def test_a3_bulk_delete_is_not_offered_on_the_changelist(office):
    MerchantFactory()
    UserFactory()

    for path in ["/admin/accounts/user/", "/admin/merchants/merchant/"]:
        response = office.get(path)
        assert response.status_code == 200
        assert b'value="delete_selected"' not in response.content


# --- View-only models (admin.md §2) -------------------------------------------------------------


def _audit_row(**overrides):
    fields = {
        "actor": Actor.system(), "action": AuditAction.MERCHANT_CREATED, "resource_type": "merchant",
        "resource_id": "00000000-0000-0000-0000-000000000001", "details": {},
    }
    return audit.record(**{**fields, **overrides})


def test_view_only_audit_log_has_no_add_and_its_detail_page_cannot_be_saved(office):
    row = _audit_row(details={"name": "Before"})

    assert office.get(f"{AUDIT_LIST}add/").status_code == 403
    detail = office.get(f"{AUDIT_LIST}{row.pk}/change/")
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content
    response = office.post(f"{AUDIT_LIST}{row.pk}/change/", {"action": "USER_ACTIVATED", "outcome": "failure"})
    assert response.status_code == 403

    row.refresh_from_db()
    assert (row.action, row.outcome) == (AuditAction.MERCHANT_CREATED, "success")


def test_view_only_refresh_token_records_have_no_add_and_cannot_be_changed(office):
    holder = UserFactory()
    account_services.login(email=holder.email, password=TEST_PASSWORD)
    record = RefreshTokenRecord.objects.get(user=holder)

    assert office.get(f"{TOKEN_LIST}add/").status_code == 403
    assert office.get(f"{TOKEN_LIST}{record.pk}/change/").status_code == 200
    response = office.post(f"{TOKEN_LIST}{record.pk}/change/", {"revoked_at_0": "2030-01-01", "revoked_at_1": "00:00"})
    assert response.status_code == 403

    record.refresh_from_db()
    assert record.revoked_at is None


def test_view_only_changelists_offer_no_actions(office):
    _audit_row()

    response = office.get(AUDIT_LIST)

    assert response.status_code == 200
    assert response.context["action_form"] is None


# --- Audit log changelist (admin.md §2 Audit log) ----------------------------------------------


def test_audit_log_changelist_shows_the_spec_columns_and_the_actor_email(office, operator):
    target = UserFactory()
    _audit_row(actor=Actor.of_user(operator), action=AuditAction.USER_DEACTIVATED, resource_type="user",
               resource_id=target.pk)

    response = office.get(AUDIT_LIST)

    assert response.status_code == 200
    columns = changelist_columns(response)
    for expected in ["occurred at", "actor type", "actor", "action", "resource type", "resource id", "outcome"]:
        assert expected in [c.lower() for c in columns], columns
    row = next(r for r in response.context["cl"].result_list if r.action == AuditAction.USER_DEACTIVATED)
    assert row.actor_email == operator.email
    assert operator.email.encode() in response.content
    assert str(target.pk)[:8].encode() in response.content


def test_audit_log_system_actor_is_shown_as_a_dash(office):
    _audit_row(actor=Actor.system(), resource_id="system-row")

    response = office.get(f"{AUDIT_LIST}?actor_type__exact=system")

    rows = list(response.context["cl"].result_list)
    assert rows and all(r.actor_type == "system" for r in rows)
    model_admin = admin.site._registry[AuditLog]
    assert model_admin.actor(rows[0]) == "—"


def test_audit_log_actor_email_costs_no_query_per_row(office):
    """1 row and 21 rows (each by a different user) cost the same number of queries."""

    def queries_after_adding(rows: int) -> tuple[int, int]:
        for _ in range(rows):
            _audit_row(actor=Actor.of_user(UserFactory()), action=AuditAction.PAYOUT_REQUESTED,
                       resource_type="payout")
        with CaptureQueriesContext(connection) as queries:
            response = office.get(AUDIT_LIST, {"action__exact": "PAYOUT_REQUESTED"})
        assert response.status_code == 200
        return len(queries), response.context["cl"].result_count

    one_row = queries_after_adding(1)
    twenty_one_rows = queries_after_adding(20)
    assert (one_row[1], twenty_one_rows[1]) == (1, 21)
    assert twenty_one_rows[0] == one_row[0]


def test_audit_log_search_by_full_resource_id_and_by_actor_id(office, operator):
    merchant_row = _audit_row(resource_id="3f2a1b7c-0000-4000-8000-000000000abc")
    actor_row = _audit_row(actor=Actor.of_user(operator), action=AuditAction.USER_ACTIVATED, resource_type="user",
                           resource_id="11111111-2222-4333-8444-555555555555")

    by_resource = office.get(AUDIT_LIST, {"q": "3f2a1b7c-0000-4000-8000-000000000abc"})
    by_actor = office.get(AUDIT_LIST, {"q": str(operator.pk)})

    assert [r.pk for r in by_resource.context["cl"].result_list] == [merchant_row.pk]
    assert actor_row.pk in [r.pk for r in by_actor.context["cl"].result_list]
    assert all(r.actor_id == operator.pk or r.resource_id == str(operator.pk)
               for r in by_actor.context["cl"].result_list)


@pytest.mark.parametrize("query,expected_outcome", [("outcome__exact=failure", "failure"),
                                                     ("outcome__exact=success", "success")])
def test_audit_log_filters_on_outcome(office, query, expected_outcome):
    audit.record_failure(actor=Actor.system(), action=AuditAction.USER_ACTIVATED, resource_type="user",
                         resource_id="x", error_code="ACCOUNT_CHANGE_REFUSED")
    _audit_row()

    response = office.get(f"{AUDIT_LIST}?{query}")

    outcomes = {r.outcome for r in response.context["cl"].result_list}
    assert outcomes == {expected_outcome}


# --- Refresh-token records (admin.md §2) ---------------------------------------------------------


def test_refresh_token_records_list_the_spec_columns_and_search_by_email_and_jti(office):
    alice, bob = UserFactory(email="alice@example.com"), UserFactory(email="bob@example.com")
    account_services.login(email=alice.email, password=TEST_PASSWORD)
    account_services.login(email=bob.email, password=TEST_PASSWORD)
    bob_record = RefreshTokenRecord.objects.get(user=bob)

    listing = office.get(TOKEN_LIST)
    by_email = office.get(TOKEN_LIST, {"q": "ALICE@example"})
    by_jti = office.get(TOKEN_LIST, {"q": bob_record.jti})

    assert listing.status_code == 200
    columns = [c.lower() for c in changelist_columns(listing)]
    for expected in ["user email", "jti", "issued at", "expires at", "used at", "revoked at"]:
        assert expected in columns, columns
    assert {r.user_id for r in by_email.context["cl"].result_list} == {alice.pk}
    assert [r.pk for r in by_jti.context["cl"].result_list] == [bob_record.pk]
    assert b"alice@example.com" in listing.content


def test_refresh_token_records_list_costs_no_query_per_row(office):
    def count_queries_after_logins(logins: int) -> int:
        for _ in range(logins):
            holder = UserFactory()
            account_services.login(email=holder.email, password=TEST_PASSWORD)
        with CaptureQueriesContext(connection) as queries:
            assert office.get(TOKEN_LIST).status_code == 200
        return len(queries)

    assert count_queries_after_logins(1) == count_queries_after_logins(19)


# --- createsuperuser ---------------------------------------------------------------------


def test_a1_createsuperuser_makes_an_active_admin_who_can_log_in(monkeypatch):
    from django.core.management import call_command

    from accounts.models import Role, User

    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", TEST_PASSWORD)
    call_command("createsuperuser", email="root@example.com", interactive=False, verbosity=0)

    created = User.objects.get(email="root@example.com")
    assert (created.role, created.is_active) == (Role.ADMIN, True)
    client = Client()
    response = client.post("/admin/login/", {"username": "ROOT@example.com", "password": TEST_PASSWORD})
    assert response.status_code == 302
    assert client.get("/admin/accounts/user/").status_code == 200


def test_a1_createsuperuser_refuses_an_email_taken_in_another_case(monkeypatch):
    # createsuperuser compares lower(email) too.
    from django.core.management import CommandError, call_command

    from accounts.exceptions import EmailAlreadyRegistered
    from accounts.models import User

    UserFactory(email="root@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", TEST_PASSWORD)

    # Refused either by the command's own check or by accounts.services (EMAIL_ALREADY_REGISTERED).
    with pytest.raises((CommandError, EmailAlreadyRegistered)):
        call_command("createsuperuser", email="Root@Example.com", interactive=False, verbosity=0)

    assert User.objects.filter(email__iexact="root@example.com").count() == 1
