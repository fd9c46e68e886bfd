"""Account services against PostgreSQL: refresh races (R-18), concurrent registration (R-209) and
the back-office role/activity guards (R-23, R-24)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import selectors, services
from accounts.exceptions import (
    AccountChangeRefused,
    EmailAlreadyRegistered,
    InvalidEmail,
    PasswordNotComplexEnough,
    TokenRevoked,
)
from accounts.models import RefreshTokenRecord, Role, User
from accounts.tests.factories import TEST_PASSWORD, AdminFactory, UserFactory
from clicknback.audit.models import AuditAction, AuditLog
from clicknback.testing import run_together

THREADS = 10


# --- one refresh token, many concurrent refreshes ---------------------------------------


@pytest.mark.django_db(transaction=True)
def test_r18_of_ten_concurrent_refreshes_with_one_token_exactly_one_succeeds():
    user = UserFactory()
    pair = services.login(email=user.email, password=TEST_PASSWORD)

    outcomes = run_together(*[lambda: services.refresh_tokens(raw_refresh_token=pair.refresh_token)] * THREADS)

    winners = [o for o in outcomes if isinstance(o, services.TokenPair)]
    losers = [o for o in outcomes if not isinstance(o, services.TokenPair)]
    assert len(winners) == 1
    assert len(losers) == THREADS - 1
    assert all(isinstance(o, TokenRevoked) for o in losers), losers
    # One new token was issued, as the single child of the presented one.
    assert RefreshTokenRecord.objects.count() == 2
    assert RefreshTokenRecord.objects.filter(parent__isnull=False).count() == 1


# --- concurrent registration of one email -----------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_r209_concurrent_registrations_of_one_email_make_one_user_and_never_an_integrity_error():
    emails = ["race@example.com", "RACE@example.com", "Race@Example.com", "race@EXAMPLE.com", "race@example.COM"]
    counter = iter(range(THREADS))

    def register():
        return services.register_user(email=emails[next(counter) % len(emails)], password="Str0ng!Passw0rd")

    outcomes = run_together(*[register] * THREADS)

    users = [o for o in outcomes if isinstance(o, User)]
    refused = [o for o in outcomes if not isinstance(o, User)]
    assert len(users) == 1
    assert all(isinstance(o, EmailAlreadyRegistered) for o in refused), refused
    assert User.objects.filter(email__iexact="race@example.com").count() == 1
    assert AuditLog.objects.filter(action=AuditAction.USER_REGISTERED).count() == 1


# --- Registration through the service ---------------------------------------------------------


@pytest.mark.django_db
def test_register_user_trims_checks_and_refuses_a_case_variant_r10():
    user = services.register_user(email="  Case@Example.com ", password="Str0ng!Passw0rd")
    assert user.email == "Case@Example.com"

    with pytest.raises(EmailAlreadyRegistered) as caught:
        services.register_user(email="case@example.COM", password="Str0ng!Passw0rd")
    assert caught.value.details == {"email": "case@example.COM"}
    assert "case@example.COM" in caught.value.message


@pytest.mark.django_db
def test_register_user_rechecks_email_and_complexity_for_non_api_callers():
    with pytest.raises(InvalidEmail):
        services.register_user(email="bücher@example.com", password="Str0ng!Passw0rd")
    with pytest.raises(PasswordNotComplexEnough):
        services.register_user(email="ok@example.com", password="weak")
    assert not User.objects.exists()


@pytest.mark.django_db
def test_login_by_any_email_case_issues_a_recorded_family_root():
    user = UserFactory(email="Mixed@Example.com")

    pair = services.login(email="mixed@example.com", password=TEST_PASSWORD)

    record = RefreshTokenRecord.objects.get(user=user)
    assert record.parent is None
    assert pair.token_type == "bearer"


def plan_of(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table would be scanned anyway
        cursor.execute("EXPLAIN " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.django_db
@pytest.mark.parametrize(
    "lookup",
    [
        lambda email: selectors.find_user_by_email(email),  # login, registration
        lambda email: User.objects.get_by_natural_key(email),  # createsuperuser, Django auth
    ],
)
def test_r208_email_lookups_compare_lower_email_and_use_its_unique_index(lookup):
    UserFactory(email="Indexed@Example.com")

    with CaptureQueriesContext(connection) as queries:
        assert lookup("  indexed@EXAMPLE.com ").email == "Indexed@Example.com"

    assert "user_email_ci_unique" in plan_of(queries.captured_queries[-1]["sql"])


# --- role and activity changes ----------------------------------------------------------


@pytest.fixture
def operator(db):
    return AdminFactory()


def audit_rows(user, action):
    return list(AuditLog.objects.filter(resource_type="user", resource_id=str(user.pk), action=action))


def test_r24_promote_and_demote_change_the_role_and_audit_from_and_to(operator):
    member = UserFactory()

    assert services.set_user_role(user_id=member.pk, role=Role.ADMIN, actor_user=operator) is True
    member.refresh_from_db()
    assert member.role == Role.ADMIN
    assert services.set_user_role(user_id=member.pk, role=Role.USER, actor_user=operator) is True
    member.refresh_from_db()
    assert member.role == Role.USER

    rows = sorted(audit_rows(member, AuditAction.USER_ROLE_CHANGED), key=lambda row: row.occurred_at)
    assert [row.details for row in rows] == [{"from": "user", "to": "admin"}, {"from": "admin", "to": "user"}]
    assert all((row.actor_type, row.actor_id, row.outcome) == ("admin", operator.pk, "success") for row in rows)


def test_r24_unchanged_role_is_a_no_op_without_audit(operator):
    member = UserFactory()

    assert services.set_user_role(user_id=member.pk, role=Role.USER, actor_user=operator) is False
    assert audit_rows(member, AuditAction.USER_ROLE_CHANGED) == []


def test_r24_an_operator_cannot_change_their_own_role(operator):
    AdminFactory()  # not the last admin: the self rule alone refuses

    with pytest.raises(AccountChangeRefused):
        services.set_user_role(user_id=operator.pk, role=Role.USER, actor_user=operator)

    operator.refresh_from_db()
    assert operator.role == Role.ADMIN
    assert audit_rows(operator, AuditAction.USER_ROLE_CHANGED) == []


def test_r24_the_last_active_admin_cannot_be_demoted(operator):
    other = AdminFactory()
    services.set_user_active(user_id=other.pk, active=False, actor_user=operator)
    # `operator` is now the only active admin; an inactive admin acting cannot demote them.
    with pytest.raises(AccountChangeRefused):
        services.set_user_role(user_id=operator.pk, role=Role.USER, actor_user=other)

    operator.refresh_from_db()
    assert operator.role == Role.ADMIN


def test_r24_an_admin_can_be_demoted_while_another_active_admin_remains(operator):
    colleague = AdminFactory()

    assert services.set_user_role(user_id=colleague.pk, role=Role.USER, actor_user=operator) is True
    colleague.refresh_from_db()
    assert colleague.role == Role.USER


def test_r24_an_operator_cannot_deactivate_themselves(operator):
    AdminFactory()

    with pytest.raises(AccountChangeRefused):
        services.set_user_active(user_id=operator.pk, active=False, actor_user=operator)

    operator.refresh_from_db()
    assert operator.is_active is True
    assert audit_rows(operator, AuditAction.USER_DEACTIVATED) == []


def test_r24_the_last_active_admin_cannot_be_deactivated(operator):
    demoted = AdminFactory()
    services.set_user_role(user_id=demoted.pk, role=Role.USER, actor_user=operator)

    with pytest.raises(AccountChangeRefused):
        services.set_user_active(user_id=operator.pk, active=False, actor_user=demoted)

    operator.refresh_from_db()
    assert operator.is_active is True


def test_r23_deactivate_and_reactivate_audit_from_and_to_and_revoke_tokens(operator):
    member = UserFactory()
    services.login(email=member.email, password=TEST_PASSWORD)

    assert services.set_user_active(user_id=member.pk, active=False, actor_user=operator) is True
    member.refresh_from_db()
    assert member.is_active is False
    assert RefreshTokenRecord.objects.filter(user=member, revoked_at__isnull=True).count() == 0

    assert services.set_user_active(user_id=member.pk, active=True, actor_user=operator) is True
    member.refresh_from_db()
    assert member.is_active is True

    (deactivated,) = audit_rows(member, AuditAction.USER_DEACTIVATED)
    (activated,) = audit_rows(member, AuditAction.USER_ACTIVATED)
    assert deactivated.details == {"from": True, "to": False}
    assert activated.details == {"from": False, "to": True}
    assert (deactivated.actor_type, deactivated.actor_id) == ("admin", operator.pk)
    assert (activated.actor_type, activated.actor_id) == ("admin", operator.pk)


def test_r23_setting_the_current_activity_is_a_no_op_without_audit(operator):
    member = UserFactory()

    assert services.set_user_active(user_id=member.pk, active=True, actor_user=operator) is False
    assert audit_rows(member, AuditAction.USER_ACTIVATED) == []


def test_r24_deactivation_does_not_revoke_other_users_tokens(operator):
    member, bystander = UserFactory(), UserFactory()
    services.login(email=bystander.email, password=TEST_PASSWORD)

    services.set_user_active(user_id=member.pk, active=False, actor_user=operator)

    assert RefreshTokenRecord.objects.get(user=bystander).revoked_at is None


@pytest.mark.django_db(transaction=True)
def test_r24_two_admins_demoting_each_other_at_once_leave_one_active_admin():
    first, second = AdminFactory(), AdminFactory()
    pairs = iter([(first, second), (second, first)])

    def demote_other():
        actor, target = next(pairs)
        return services.set_user_role(user_id=target.pk, role=Role.USER, actor_user=actor)

    outcomes = run_together(demote_other, demote_other)

    assert sorted(type(o).__name__ for o in outcomes) == ["AccountChangeRefused", "bool"]
    assert User.objects.filter(role=Role.ADMIN, is_active=True).count() == 1
