"""Back-office for users (admin.md §2 Users, §3), driven through Django's test client."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts import services
from accounts.exceptions import InvalidCredentials
from accounts.models import RefreshTokenRecord, Role, User
from accounts.tests.factories import TEST_PASSWORD, AdminFactory, UserFactory
from clicknback.audit.models import AuditAction, AuditLog
from clicknback.testing import admin_messages, audit_rows, changelist_columns, changelist_pks, post_admin_action

pytestmark = pytest.mark.django_db

USERS = "/admin/accounts/user/"
NEW_PASSWORD = "N3w-Secret!pass"


@pytest.fixture
def operator():
    # overrides the root conftest's: these tests look the operator up by email
    return AdminFactory(email="operator@example.com")


# --- Changelist ----------------------------------------------------------------------------------


def test_changelist_shows_the_spec_columns_including_available_balance(office):
    from wallets.models import Wallet

    holder = UserFactory(email="holder@example.com")
    Wallet.objects.filter(user=holder).update(available_balance="12.34")

    response = office.get(USERS)

    assert response.status_code == 200
    columns = changelist_columns(response)
    for expected in ["email", "role", "active", "created at", "available balance"]:
        assert expected in columns, columns
    assert b"holder@example.com" in response.content
    assert b"12.34" in response.content


def test_changelist_costs_no_query_per_row(office):
    def queries_with(extra_users: int) -> int:
        UserFactory.create_batch(extra_users)
        with CaptureQueriesContext(connection) as queries:
            assert office.get(USERS).status_code == 200
        return len(queries)

    assert queries_with(1) == queries_with(20)


def test_search_by_email_is_case_insensitive_and_partial(office):
    wanted = UserFactory(email="Carol.Jones@example.com")
    UserFactory(email="dave@example.com")

    response = office.get(USERS, {"q": "carol.jones@EXAMPLE"})

    assert set(changelist_pks(response)) == {wanted.pk}


def test_search_by_full_id_finds_exactly_that_user(office):
    # ids are shown as 8 characters but searchable in full.
    wanted, _other = UserFactory(), UserFactory()

    response = office.get(USERS, {"q": f"  {str(wanted.pk).upper()} "})

    assert set(changelist_pks(response)) == {wanted.pk}
    assert str(wanted.pk)[:8].encode() in response.content


def test_sorting_by_available_balance(office):
    from wallets.models import Wallet

    poor, rich = UserFactory(), UserFactory()
    Wallet.objects.filter(user=rich).update(available_balance="99.00")
    Wallet.objects.filter(user=poor).update(available_balance="1.00")
    # `o` counts the checkbox as 0
    column = changelist_columns(office.get(USERS), checkbox=True).index("available balance")

    descending = [u.pk for u in office.get(USERS, {"o": f"-{column}"}).context["cl"].result_list]
    ascending = [u.pk for u in office.get(USERS, {"o": f"{column}"}).context["cl"].result_list]

    assert descending.index(rich.pk) < descending.index(poor.pk)
    assert ascending.index(poor.pk) < ascending.index(rich.pk)


def test_filter_by_role(office, operator):
    regular = UserFactory()

    admins = office.get(USERS, {"role__exact": "admin"})
    users = office.get(USERS, {"role__exact": "user"})

    assert operator.pk in changelist_pks(admins) and regular.pk not in changelist_pks(admins)
    assert regular.pk in changelist_pks(users) and operator.pk not in changelist_pks(users)


def test_filter_by_active(office):
    active, inactive = UserFactory(), UserFactory(is_active=False)

    only_inactive = office.get(USERS, {"is_active__exact": "0"})
    only_active = office.get(USERS, {"is_active__exact": "1"})

    assert set(changelist_pks(only_inactive)) == {inactive.pk}
    assert active.pk in changelist_pks(only_active) and inactive.pk not in changelist_pks(only_active)


# --- Add form (A-8, R-10…R-13) -------------------------------------------------------------------


def _add(office, email, password1=NEW_PASSWORD, password2=None):
    return office.post(
        f"{USERS}add/", {"email": email, "password1": password1, "password2": password2 or password1, "_save": "Save"}
    )


def test_add_user_registers_through_the_service_audited_as_the_operator(office, operator):
    from wallets.models import Wallet

    response = _add(office, "  new.person@example.com  ")

    assert response.status_code == 302
    created = User.objects.get(email__iexact="new.person@example.com")
    assert created.email == "new.person@example.com"  # trimmed
    assert (created.role, created.is_active) == (Role.USER, True)
    assert created.check_password(NEW_PASSWORD)
    assert Wallet.objects.filter(user=created, available_balance=0, pending_balance=0).exists()
    (row,) = audit_rows("user", created, AuditAction.USER_REGISTERED)
    assert (row.actor_type, row.actor_id, row.outcome) == ("admin", operator.pk, "success")
    assert row.details == {"email": "new.person@example.com", "role": "user", "active": True}


@pytest.mark.parametrize("password,reason", [
    ("Sh0rt!", "Password needs at least 8 characters."),
    ("lowercase1!", "Password needs an uppercase letter."),
    ("UPPERCASE1!", "Password needs a lowercase letter."),
    ("NoDigits!here", "Password needs a digit."),
    ("NoSymbols1here", "Password needs a character that is not a letter or a digit."),
    ("Aa1!" * 32 + "x", "Password must be at most 128 characters."),
])
def test_add_user_with_weak_password_is_refused_with_the_r11_reason(office, password, reason):
    response = _add(office, "weak@example.com", password1=password)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["password1"] == [reason]
    assert not User.objects.filter(email__iexact="weak@example.com").exists()
    assert not AuditLog.objects.filter(details__email="weak@example.com").exists()


def test_add_user_with_differing_passwords_is_refused(office):
    response = _add(office, "typo@example.com", password1=NEW_PASSWORD, password2=NEW_PASSWORD + "x")

    assert response.status_code == 200
    assert "password2" in response.context["adminform"].form.errors
    assert not User.objects.filter(email__iexact="typo@example.com").exists()


def test_add_user_with_an_email_taken_in_another_case_is_refused(office):
    # unique case-insensitively.
    UserFactory(email="taken@example.com")

    response = _add(office, "TAKEN@Example.COM")

    assert response.status_code == 200
    assert "already registered" in " ".join(response.context["adminform"].form.errors["email"])
    assert User.objects.filter(email__iexact="taken@example.com").count() == 1


def test_add_user_with_an_invalid_email_is_refused(office):
    response = _add(office, "not-an-email")

    assert response.status_code == 200
    assert "email" in response.context["adminform"].form.errors
    assert not User.objects.filter(email="not-an-email").exists()


# --- Change form ---------------------------------------------------------------------------------


def _change(office, user, **fields):
    data = {"email": user.email, "_save": "Save", **fields}
    return office.post(f"{USERS}{user.pk}/change/", data)


def test_change_form_renders_with_status_fields_read_only_and_no_editable_password(office):
    regular = UserFactory()

    response = office.get(f"{USERS}{regular.pk}/change/")

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert set(form.fields) <= {"email", "password"}
    assert "email" in form.fields
    # The hash is never an editable input; the password changes only through its own form.
    assert b'name="password"' not in response.content
    assert regular.password.encode() not in response.content
    assert b'href="../password/"' in response.content
    assert set(response.context["adminform"].readonly_fields) >= {"id", "role", "is_active", "created_at"}


def test_change_form_edits_the_email_and_audits_user_updated(office, operator):
    regular = UserFactory(email="old@example.com")

    response = _change(office, regular, email="  New@Example.com ")

    assert response.status_code == 302
    regular.refresh_from_db()
    assert regular.email == "New@Example.com"
    (row,) = audit_rows("user", regular, AuditAction.USER_UPDATED)
    assert (row.actor_type, row.actor_id) == ("admin", operator.pk)
    assert row.details == {"changed": ["email"]}  # field names only


def test_change_form_refuses_an_email_of_another_user_in_any_case(office):
    UserFactory(email="first@example.com")
    second = UserFactory(email="second@example.com")

    response = _change(office, second, email="FIRST@example.com")

    assert response.status_code == 200
    assert "email" in response.context["adminform"].form.errors
    second.refresh_from_db()
    assert second.email == "second@example.com"
    assert not audit_rows("user", second, AuditAction.USER_UPDATED)


def test_change_form_ignores_posted_role_and_active(office):
    # status fields change only through actions; role likewise.
    regular = UserFactory()

    response = _change(office, regular, role="admin", is_active="", password="plain-text-attempt")

    assert response.status_code == 302
    regular.refresh_from_db()
    assert (regular.role, regular.is_active) == (Role.USER, True)
    assert regular.check_password(TEST_PASSWORD)
    assert not AuditLog.objects.filter(resource_id=str(regular.pk)).exclude(action=AuditAction.USER_REGISTERED)


def test_change_form_without_a_change_writes_no_audit_row(office):
    regular = UserFactory()

    assert _change(office, regular).status_code == 302

    assert not audit_rows("user", regular, AuditAction.USER_UPDATED)


# --- Change-password form (R-11, R-18, R-211) ------------------------------------------------------


def _set_password(office, user, password1, password2=None, **extra):
    return office.post(
        f"{USERS}{user.pk}/password/", {"password1": password1, "password2": password2 or password1, **extra}
    )


def test_change_password_sets_it_audits_and_revokes_refresh_tokens(office, operator):
    holder = UserFactory()
    services.login(email=holder.email, password=TEST_PASSWORD)
    assert office.get(f"{USERS}{holder.pk}/password/").status_code == 200

    response = _set_password(office, holder, NEW_PASSWORD)

    assert response.status_code == 302
    assert services.login(email=holder.email, password=NEW_PASSWORD).access_token
    with pytest.raises(InvalidCredentials):
        services.login(email=holder.email, password=TEST_PASSWORD)
    (row,) = audit_rows("user", holder, AuditAction.USER_UPDATED)
    assert (row.actor_type, row.actor_id) == ("admin", operator.pk)
    assert row.details == {"changed": ["password"]}
    assert NEW_PASSWORD not in str(row.details)
    first_token = RefreshTokenRecord.objects.filter(user=holder).order_by("issued_at").first()
    assert first_token.revoked_at is not None


def test_change_password_refuses_a_weak_one_with_the_r11_reason(office):
    holder = UserFactory()

    response = _set_password(office, holder, "NoDigits!here")

    assert response.status_code == 200
    assert "Password needs a digit." in response.context["form"].errors["password2"]
    holder.refresh_from_db()
    assert holder.check_password(TEST_PASSWORD)
    assert not audit_rows("user", holder, AuditAction.USER_UPDATED)


def test_change_password_cannot_disable_password_login(office):
    # Only "set a new password (R-11)" is offered; Django's "disable password-based login" is not.
    holder = UserFactory()

    response = office.post(f"{USERS}{holder.pk}/password/", {"usable_password": "false", "unset-password": "1"})

    assert response.status_code == 200
    assert "usable_password" not in response.context["form"].fields
    assert "password1" in response.context["form"].errors
    holder.refresh_from_db()
    assert holder.has_usable_password()
    assert holder.check_password(TEST_PASSWORD)
    assert not audit_rows("user", holder, AuditAction.USER_UPDATED)


def test_login_through_the_back_office_works_with_a_password_set_there(office, operator):
    other_admin = AdminFactory()
    _set_password(office, other_admin, NEW_PASSWORD)

    client = Client()
    response = client.post("/admin/login/", {"username": other_admin.email.upper(), "password": NEW_PASSWORD})

    assert response.status_code == 302
    assert client.get(USERS).status_code == 200


# --- Actions (A-5, A-6, R-23, R-24, R-192) -----------------------------------------------------------


def test_deactivate_action_deactivates_audits_and_revokes_refresh_tokens(office, operator):
    holder = UserFactory()
    services.login(email=holder.email, password=TEST_PASSWORD)
    services.login(email=holder.email, password=TEST_PASSWORD)

    response = post_admin_action(office, USERS, "deactivate", [holder])

    assert ("success", "1 succeeded, 0 failed.") in admin_messages(response)
    holder.refresh_from_db()
    assert holder.is_active is False
    assert not RefreshTokenRecord.objects.filter(user=holder, revoked_at__isnull=True).exists()
    (row,) = audit_rows("user", holder, AuditAction.USER_DEACTIVATED)
    assert (row.actor_type, row.actor_id, row.outcome) == ("admin", operator.pk, "success")
    assert row.details == {"from": True, "to": False}


def test_activate_action_reactivates_and_audits(office, operator):
    holder = UserFactory(is_active=False)

    response = post_admin_action(office, USERS, "activate", [holder])

    assert ("success", "1 succeeded, 0 failed.") in admin_messages(response)
    holder.refresh_from_db()
    assert holder.is_active is True
    (row,) = audit_rows("user", holder, AuditAction.USER_ACTIVATED)
    assert (row.actor_type, row.actor_id, row.details) == ("admin", operator.pk, {"from": False, "to": True})


def test_activate_action_on_an_active_user_reports_unchanged_and_writes_no_row(office):
    holder = UserFactory()

    response = post_admin_action(office, USERS, "activate", [holder])

    assert ("success", "0 succeeded, 0 failed, 1 unchanged.") in admin_messages(response)
    assert not audit_rows("user", holder, AuditAction.USER_ACTIVATED)


def test_deactivating_own_account_is_refused_with_a_failure_row_while_others_proceed(office, operator):
    # one failing object does not stop the others; R-24: not your own account; R-192.
    holder = UserFactory()

    response = post_admin_action(office, USERS, "deactivate", [operator, holder])

    shown = admin_messages(response)
    assert ("warning", "1 succeeded, 1 failed.") in shown
    errors = [text for level, text in shown if level == "error"]
    assert len(errors) == 1
    assert operator.email in errors[0] and "ACCOUNT_CHANGE_REFUSED" in errors[0]
    operator.refresh_from_db()
    holder.refresh_from_db()
    assert operator.is_active is True and holder.is_active is False
    (failure,) = audit_rows("user", operator, AuditAction.USER_DEACTIVATED)
    assert (failure.outcome, failure.actor_type, failure.actor_id) == ("failure", "admin", operator.pk)
    assert failure.details["error_code"] == "ACCOUNT_CHANGE_REFUSED"


def test_demoting_own_account_is_refused_with_a_failure_row(office, operator):
    response = post_admin_action(office, USERS, "make_regular_user", [operator])

    shown = admin_messages(response)
    assert ("warning", "0 succeeded, 1 failed.") in shown
    assert any(level == "error" and "ACCOUNT_CHANGE_REFUSED" in text for level, text in shown)
    operator.refresh_from_db()
    assert operator.role == Role.ADMIN
    (failure,) = audit_rows("user", operator, AuditAction.USER_ROLE_CHANGED)
    assert failure.outcome == "failure" and failure.details["error_code"] == "ACCOUNT_CHANGE_REFUSED"


def test_make_admin_and_make_regular_user_change_the_role_and_audit_old_and_new(office, operator):
    holder = UserFactory()

    promoted = post_admin_action(office, USERS, "make_admin", [holder])
    holder.refresh_from_db()
    assert holder.role == Role.ADMIN
    assert ("success", "1 succeeded, 0 failed.") in admin_messages(promoted)
    # the new role counts from the next request.
    client = Client()
    client.force_login(holder)
    assert client.get(USERS).status_code == 200

    demoted = post_admin_action(office, USERS, "make_regular_user", [holder])
    holder.refresh_from_db()
    assert holder.role == Role.USER
    assert ("success", "1 succeeded, 0 failed.") in admin_messages(demoted)
    assert client.get(USERS).status_code == 302

    rows = sorted(audit_rows("user", holder, AuditAction.USER_ROLE_CHANGED), key=lambda r: r.occurred_at)
    assert [r.details for r in rows] == [{"from": "user", "to": "admin"}, {"from": "admin", "to": "user"}]
    assert all((r.actor_type, r.actor_id, r.outcome) == ("admin", operator.pk, "success") for r in rows)


def test_deactivating_the_last_active_admin_is_refused(office, operator, monkeypatch):
    """R-24: another operator deactivated this one a moment ago (simulated just before the action
    runs), so the selected admin is now the last active admin and must stay active."""
    other_admin = AdminFactory()
    real = services.set_user_active

    def after_a_concurrent_deactivation(**kwargs):
        User.objects.filter(pk=operator.pk).update(is_active=False)
        return real(**kwargs)

    monkeypatch.setattr("accounts.admin.services.set_user_active", after_a_concurrent_deactivation)

    response = post_admin_action(office, USERS, "deactivate", [other_admin])

    other_admin.refresh_from_db()
    assert other_admin.is_active is True
    (failure,) = audit_rows("user", other_admin, AuditAction.USER_DEACTIVATED)
    assert (failure.outcome, failure.details["error_code"]) == ("failure", "ACCOUNT_CHANGE_REFUSED")
    assert "last active admin" in failure.details["message"]
    assert response.status_code in (200, 302)


def test_demoting_the_last_active_admin_is_refused(office, operator, monkeypatch):
    other_admin = AdminFactory()
    real = services.set_user_role

    def after_a_concurrent_demotion(**kwargs):
        User.objects.filter(pk=operator.pk).update(role=Role.USER)
        return real(**kwargs)

    monkeypatch.setattr("accounts.admin.services.set_user_role", after_a_concurrent_demotion)

    post_admin_action(office, USERS, "make_regular_user", [other_admin])

    other_admin.refresh_from_db()
    assert other_admin.role == Role.ADMIN
    (failure,) = audit_rows("user", other_admin, AuditAction.USER_ROLE_CHANGED)
    assert (failure.outcome, failure.details["error_code"]) == ("failure", "ACCOUNT_CHANGE_REFUSED")


def test_operator_changing_their_own_password_stays_logged_in(office, operator):
    response = _set_password(office, operator, NEW_PASSWORD)

    assert response.status_code == 302
    assert office.get(USERS).status_code == 200
    operator.refresh_from_db()
    assert operator.check_password(NEW_PASSWORD)


def test_password_change_logs_the_user_out_of_existing_back_office_sessions(office):
    other_admin = AdminFactory()
    their_session = Client()
    their_session.force_login(other_admin)
    assert their_session.get(USERS).status_code == 200

    _set_password(office, other_admin, NEW_PASSWORD)

    assert their_session.get(USERS).status_code == 302
