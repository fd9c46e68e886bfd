"""Feature-flag reads and writes against PostgreSQL (R-160…R-165, R-190…R-193)."""

import uuid

import pytest
from django.db import IntegrityError, connection, transaction

from clicknback.audit.models import AuditAction, AuditLog
from clicknback.audit.services import Actor
from clicknback.errors import ValidationFailed
from clicknback.flags import selectors, services
from clicknback.flags.exceptions import FeatureFlagNotFound, FeatureFlagScopeIdRequired
from clicknback.flags.models import FeatureFlag
from clicknback.flags.tests.factories import FeatureFlagFactory
from clicknback.testing import run_concurrently

KEY = "purchase_auto_confirm"
USER_ID = uuid.UUID("11111111-1111-4111-8111-111111111111")
MERCHANT_ID = uuid.UUID("22222222-2222-4222-8222-222222222222")


@pytest.fixture
def actor(admin_user):
    return Actor.of_user(admin_user)


def flag_audits(action=None):
    rows = AuditLog.objects.filter(resource_type="feature_flag").order_by("occurred_at")
    return list(rows.filter(action=action) if action else rows)


def make(scope_type="global", enabled=True, scope_id=None, key=KEY):
    if scope_type != "global" and scope_id is None:
        scope_id = USER_ID if scope_type == "user" else MERCHANT_ID
    return FeatureFlagFactory(key=key, scope_type=scope_type, scope_id=scope_id, enabled=enabled)


# --- is_enabled: resolution of R-160 ---------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("scope_type", ["global", "user", "merchant"])
def test_no_record_at_all_resolves_true_fail_open_r160(scope_type):
    scope_id = None if scope_type == "global" else uuid.uuid4()

    assert selectors.is_enabled(KEY, scope_type, scope_id) is True


@pytest.mark.django_db
@pytest.mark.parametrize("scope_type", ["user", "merchant"])
@pytest.mark.parametrize(
    ("global_enabled", "scoped_enabled", "expected"),
    [
        (None, None, True),  # fail-open
        (False, None, False),  # no scoped record: the global one decides
        (True, None, True),
        (False, True, True),  # a scoped true overrides a global false
        (True, False, False),  # a scoped false overrides a global true
        (None, False, False),
        (None, True, True),
    ],
)
def test_resolution_table_scoped_then_global_then_true_r160(scope_type, global_enabled, scoped_enabled, expected):
    scope_id = uuid.uuid4()
    if global_enabled is not None:
        make("global", global_enabled)
    if scoped_enabled is not None:
        make(scope_type, scoped_enabled, scope_id)

    assert selectors.is_enabled(KEY, scope_type, scope_id) is expected


@pytest.mark.django_db
def test_global_evaluation_ignores_scoped_records_r160():
    make("user", False, USER_ID)
    make("merchant", False, MERCHANT_ID)

    assert selectors.is_enabled(KEY) is True
    make("global", False)
    make("user", True, uuid.uuid4())
    assert selectors.is_enabled(KEY, "global") is False


@pytest.mark.django_db
def test_a_record_for_another_scope_id_other_scope_type_or_other_key_does_not_apply_r160():
    make("global", False)
    make("user", True, USER_ID)
    make("merchant", True, USER_ID)  # same uuid, other scope type
    make("global", True, key="other_flag")

    assert selectors.is_enabled(KEY, "user", uuid.uuid4()) is False
    assert selectors.is_enabled(KEY, "merchant", uuid.uuid4()) is False
    assert selectors.is_enabled(KEY, "user", USER_ID) is True


@pytest.mark.django_db
def test_is_enabled_costs_one_query(django_assert_num_queries):
    make("global", False)
    make("user", True, USER_ID)

    with django_assert_num_queries(1):
        assert selectors.is_enabled(KEY, "user", USER_ID) is True


# --- flags_enabled_for: R-164 (purchase_auto_confirm needs both scopes) -----------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("global_enabled", "user_enabled", "merchant_enabled", "expected"),
    [
        (None, None, None, True),  # fail-open
        (False, None, None, False),  # a global false pauses everything…
        (False, True, None, False),  # …unless both scopes are overridden to true
        (False, None, True, False),
        (False, True, True, True),
        (True, False, None, False),  # one scope false is enough to skip
        (True, None, False, False),
        (None, False, True, False),
        (None, True, False, False),
        (True, True, True, True),
        (None, True, True, True),
    ],
)
def test_flags_enabled_for_is_true_only_when_user_and_merchant_scopes_resolve_true_r164(
    django_assert_num_queries, global_enabled, user_enabled, merchant_enabled, expected
):
    if global_enabled is not None:
        make("global", global_enabled)
    if user_enabled is not None:
        make("user", user_enabled, USER_ID)
    if merchant_enabled is not None:
        make("merchant", merchant_enabled, MERCHANT_ID)

    with django_assert_num_queries(1):
        result = selectors.flags_enabled_for(KEY, user_id=USER_ID, merchant_id=MERCHANT_ID)

    assert result is expected
    assert result is (
        selectors.is_enabled(KEY, "user", USER_ID) and selectors.is_enabled(KEY, "merchant", MERCHANT_ID)
    )


@pytest.mark.django_db
def test_flags_enabled_for_does_not_mix_up_user_and_merchant_scopes_r164():
    # A merchant-scoped false whose id happens to be the user's id must not pause that user.
    make("merchant", False, USER_ID)
    make("user", False, MERCHANT_ID)

    assert selectors.flags_enabled_for(KEY, user_id=USER_ID, merchant_id=MERCHANT_ID) is True


# --- list_flags --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_flags_filters_and_sorts_newest_first_then_id():
    older, newer = make("global", key="a_flag"), make("user", key="a_flag")
    FeatureFlag.objects.filter(pk=older.pk).update(created_at="2026-01-01T00:00:00Z")
    FeatureFlag.objects.filter(pk=newer.pk).update(created_at="2026-02-01T00:00:00Z")
    other = make("merchant", key="b_flag", scope_id=USER_ID)

    assert list(selectors.list_flags(key="a_flag")) == [newer, older]
    assert list(selectors.list_flags(scope_id=USER_ID)) == [other, newer]
    assert list(selectors.list_flags(scope_type="user", scope_id=USER_ID)) == [newer]


# --- set_flag: the upsert of R-161 -----------------------------------------------------------------


@pytest.mark.django_db
def test_set_flag_creates_a_global_flag_and_audits_before_null_and_after_r161_r165(actor):
    flag, changed = services.set_flag(key=KEY, enabled=False, description="Pause the job", actor=actor)

    assert changed is True
    stored = FeatureFlag.objects.get()
    assert (stored.pk, stored.key, stored.enabled, stored.scope_type, stored.scope_id, stored.description) == (
        flag.pk, KEY, False, "global", None, "Pause the job"
    )
    (row,) = flag_audits()
    assert (row.action, row.actor_type, row.actor_id, row.outcome) == (
        AuditAction.FEATURE_FLAG_SET, "admin", actor.id, "success"
    )
    assert row.resource_id == str(flag.pk)
    assert row.details == {
        "key": KEY, "scope_type": "global", "scope_id": None,
        "before": None, "after": {"enabled": False, "description": "Pause the job"},
    }


@pytest.mark.django_db
def test_set_flag_on_an_existing_identity_updates_it_in_place_r161(actor):
    first, _ = services.set_flag(key=KEY, enabled=True, scope_type="user", scope_id=USER_ID, actor=actor)

    second, changed = services.set_flag(key=KEY, enabled=False, scope_type="user", scope_id=USER_ID, actor=actor)

    assert changed is True and second.pk == first.pk
    assert FeatureFlag.objects.count() == 1
    assert FeatureFlag.objects.get().enabled is False
    update = flag_audits()[-1]
    assert update.details["before"] == {"enabled": True, "description": None}
    assert update.details["after"] == {"enabled": False, "description": None}
    assert update.details["scope_id"] == str(USER_ID)


@pytest.mark.django_db
def test_one_key_in_different_scopes_is_three_records_r161(actor):
    services.set_flag(key=KEY, enabled=False, actor=actor)
    services.set_flag(key=KEY, enabled=True, scope_type="user", scope_id=USER_ID, actor=actor)
    services.set_flag(key=KEY, enabled=True, scope_type="merchant", scope_id=USER_ID, actor=actor)

    assert sorted(FeatureFlag.objects.values_list("scope_type", flat=True)) == ["global", "merchant", "user"]


@pytest.mark.django_db
def test_set_flag_without_description_keeps_the_previous_one(actor):
    services.set_flag(key=KEY, enabled=True, description="Why it exists", actor=actor)

    services.set_flag(key=KEY, enabled=False, actor=actor)

    assert FeatureFlag.objects.get().description == "Why it exists"
    assert flag_audits()[-1].details["after"] == {"enabled": False, "description": "Why it exists"}


@pytest.mark.django_db
def test_set_flag_with_description_none_clears_it(actor):
    services.set_flag(key=KEY, enabled=True, description="Old", actor=actor)

    services.set_flag(key=KEY, enabled=True, description=None, actor=actor)

    assert FeatureFlag.objects.get().description is None


@pytest.mark.django_db
def test_set_flag_with_the_values_it_already_has_writes_nothing(actor):
    services.set_flag(key=KEY, enabled=True, description="Same", actor=actor)
    before = FeatureFlag.objects.get().updated_at

    flag, changed = services.set_flag(key=KEY, enabled=True, actor=actor)

    assert changed is False and flag.enabled is True
    assert FeatureFlag.objects.get().updated_at == before
    assert len(flag_audits()) == 1


@pytest.mark.django_db
def test_set_flag_by_the_system_is_audited_with_a_null_actor_id_r190(db):
    services.set_flag(key=KEY, enabled=False, actor=Actor.system())

    (row,) = flag_audits()
    assert (row.actor_type, row.actor_id) == ("system", None)


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "Purchase", "1abc", "a-b", "x" * 101, "abc\n"])
def test_set_flag_refuses_a_bad_key_and_stores_nothing_r162(actor, key):
    with pytest.raises(ValidationFailed) as exc_info:
        services.set_flag(key=key, enabled=True, actor=actor)

    assert [v["field"] for v in exc_info.value.details["violations"]] == ["key"]
    assert not FeatureFlag.objects.exists() and not flag_audits()


@pytest.mark.django_db
def test_set_flag_refuses_a_scope_id_with_global_r163(actor):
    with pytest.raises(ValidationFailed) as exc_info:
        services.set_flag(key=KEY, enabled=True, scope_type="global", scope_id=USER_ID, actor=actor)

    assert [v["field"] for v in exc_info.value.details["violations"]] == ["scope_id"]
    assert not FeatureFlag.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("scope_type", ["user", "merchant"])
def test_set_flag_scoped_without_scope_id_is_422_scope_id_required_r163(actor, scope_type):
    with pytest.raises(FeatureFlagScopeIdRequired) as exc_info:
        services.set_flag(key=KEY, enabled=True, scope_type=scope_type, actor=actor)

    assert (exc_info.value.code, exc_info.value.status) == ("FEATURE_FLAG_SCOPE_ID_REQUIRED", 422)
    assert exc_info.value.details == {"scope_type": scope_type}
    assert not FeatureFlag.objects.exists() and not flag_audits()


@pytest.mark.django_db
def test_set_flag_scoped_entity_need_not_exist_r163(actor):
    services.set_flag(key=KEY, enabled=False, scope_type="merchant", scope_id=uuid.uuid4(), actor=actor)

    assert FeatureFlag.objects.get().scope_type == "merchant"


# --- the database as the last line of defence --------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {"key": KEY, "scope_type": "global", "scope_id": None},  # second global record
        {"key": KEY, "scope_type": "user", "scope_id": USER_ID},  # second record of one scope
        {"key": "other", "scope_type": "global", "scope_id": USER_ID},  # global with an id
        {"key": "other", "scope_type": "user", "scope_id": None},  # scoped without an id
        {"key": "other", "scope_type": "tenant", "scope_id": USER_ID},  # unknown scope type
        {"key": "Bad-Key", "scope_type": "global", "scope_id": None},
    ],
)
def test_database_constraints_refuse_rows_the_rules_forbid(fields):
    make("global")
    make("user", scope_id=USER_ID)

    with pytest.raises(IntegrityError), transaction.atomic():
        FeatureFlag.objects.create(enabled=True, **fields)


# --- delete_flag ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_delete_flag_removes_one_record_audits_it_and_resolution_falls_back_r165(actor):
    make("global", False)
    scoped = make("user", True, USER_ID)
    assert selectors.is_enabled(KEY, "user", USER_ID) is True

    services.delete_flag(key=KEY, scope_type="user", scope_id=USER_ID, actor=actor)

    assert not FeatureFlag.objects.filter(pk=scoped.pk).exists()
    assert FeatureFlag.objects.filter(scope_type="global").exists()
    assert selectors.is_enabled(KEY, "user", USER_ID) is False  # back to the global record
    (row,) = flag_audits(AuditAction.FEATURE_FLAG_DELETED)
    assert (row.actor_type, row.actor_id, row.resource_id) == ("admin", actor.id, str(scoped.pk))
    assert row.details == {
        "key": KEY, "scope_type": "user", "scope_id": str(USER_ID),
        "before": {"enabled": True, "description": None},
    }


@pytest.mark.django_db
def test_deleting_the_global_record_restores_fail_open_r165(actor):
    make("global", False)

    services.delete_flag(key=KEY, scope_type="global", scope_id=None, actor=actor)

    assert selectors.is_enabled(KEY) is True


@pytest.mark.django_db
def test_delete_flag_of_a_missing_record_is_not_found_and_audits_nothing(actor):
    make("global")

    with pytest.raises(FeatureFlagNotFound) as exc_info:
        services.delete_flag(key=KEY, scope_type="user", scope_id=USER_ID, actor=actor)

    assert (exc_info.value.code, exc_info.value.status) == ("FEATURE_FLAG_NOT_FOUND", 404)
    assert exc_info.value.details == {"key": KEY, "scope_type": "user", "scope_id": str(USER_ID)}
    assert FeatureFlag.objects.count() == 1 and not flag_audits()


@pytest.mark.django_db
def test_delete_flag_scoped_without_scope_id_is_scope_id_required(actor):
    make("user", scope_id=USER_ID)

    with pytest.raises(FeatureFlagScopeIdRequired):
        services.delete_flag(key=KEY, scope_type="user", scope_id=None, actor=actor)

    assert FeatureFlag.objects.count() == 1


# --- R-161 under concurrency -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("scope_type", ["global", "user"])
def test_concurrent_upserts_of_one_identity_make_one_row_and_never_fail_r161(scope_type):
    assert connection.vendor == "postgresql"
    scope_id = None if scope_type == "global" else USER_ID
    thread_count = 8

    outcomes = run_concurrently(lambda i: services.set_flag(
        key=KEY, enabled=bool(i % 2), scope_type=scope_type, scope_id=scope_id, actor=Actor.system(),
    ), thread_count)

    assert len(outcomes) == thread_count
    assert all(isinstance(o, tuple) for o in outcomes), outcomes
    assert FeatureFlag.objects.count() == 1
    flag = FeatureFlag.objects.get()
    assert {o[0].pk for o in outcomes} == {flag.pk}
    rows = flag_audits(AuditAction.FEATURE_FLAG_SET)
    assert [r.details["before"] for r in rows].count(None) == 1  # exactly one creation
    assert len(rows) == sum(1 for o in outcomes if o[1])  # one audit row per real change
    assert rows[-1].details["after"]["enabled"] is flag.enabled  # the trail ends at the stored state


@pytest.mark.django_db(transaction=True)
def test_concurrent_deletes_of_one_flag_delete_once_and_the_others_are_not_found():
    FeatureFlagFactory(key=KEY)

    outcomes = run_concurrently(lambda i: services.delete_flag(key=KEY, scope_type="global", scope_id=None,
                                                               actor=Actor.system()), 6)

    assert outcomes.count(None) == 1
    assert all(isinstance(o, FeatureFlagNotFound) for o in outcomes if o is not None), outcomes
    assert len(flag_audits(AuditAction.FEATURE_FLAG_DELETED)) == 1
    assert not FeatureFlag.objects.exists()
