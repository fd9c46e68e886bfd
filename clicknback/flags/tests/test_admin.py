"""Back-office for feature flags (admin.md §2 Feature flags, §3), driven through Django's test client."""

import uuid

import pytest

from clicknback.audit.models import AuditAction
from clicknback.flags.models import FeatureFlag
from clicknback.flags.tests.factories import FeatureFlagFactory
from clicknback.testing import (
    admin_form_errors,
    admin_messages,
    audit_rows,
    changelist_columns,
    changelist_pks,
    post_admin_action,
)

pytestmark = pytest.mark.django_db

FLAGS = "/admin/flags/featureflag/"
KEY = "purchase_auto_confirm"
USER_ID = "11111111-1111-4111-8111-111111111111"


# --- Changelist ----------------------------------------------------------------------------------


def test_changelist_shows_the_spec_columns(office):
    FeatureFlagFactory(key=KEY, scope_type="user", scope_id=uuid.UUID(USER_ID), description="Paused for a review")

    response = office.get(FLAGS)

    assert response.status_code == 200
    columns = changelist_columns(response)  # the action checkbox left out
    assert columns == ["key", "scope type", "scope id", "enabled", "description", "updated at"]
    assert KEY.encode() in response.content and b"Paused for a review" in response.content
    assert USER_ID[:8].encode() in response.content  # ids shortened


def test_changelist_filters_on_scope_type_and_enabled(office):
    global_on = FeatureFlagFactory(enabled=True)
    user_off = FeatureFlagFactory(scope_type="user", enabled=False)
    merchant_on = FeatureFlagFactory(scope_type="merchant", enabled=True)

    assert set(changelist_pks(office.get(FLAGS, {"scope_type__exact": "user"}))) == {user_off.pk}
    assert set(changelist_pks(office.get(FLAGS, {"enabled__exact": "1"}))) == {global_on.pk, merchant_on.pk}


def test_changelist_searches_key_text_and_a_full_scope_id(office):
    wanted = FeatureFlagFactory(key=KEY, scope_type="user", scope_id=uuid.UUID(USER_ID))
    FeatureFlagFactory(key="payout_auto_process")
    same_key = FeatureFlagFactory(key=KEY)

    assert set(changelist_pks(office.get(FLAGS, {"q": "auto_confirm"}))) == {wanted.pk, same_key.pk}
    assert set(changelist_pks(office.get(FLAGS, {"q": USER_ID.upper()}))) == {wanted.pk}


def test_changelist_offers_bulk_delete_for_flags_only_r8(office):
    FeatureFlagFactory()

    response = office.get(FLAGS)

    assert b'value="delete_selected"' in response.content
    assert b'value="enable"' in response.content and b'value="disable"' in response.content
    assert b'value="delete_selected"' not in office.get("/admin/merchants/merchant/").content  # A-3 elsewhere


# --- Add / change through the service (A-8, R-161…R-163) ------------------------------------------


def _add(office, **fields):
    data = {"key": KEY, "scope_type": "global", "scope_id": "", "enabled": "on", "description": "", **fields}
    return office.post(f"{FLAGS}add/", {k: v for k, v in data.items() if v is not None})


def test_add_creates_through_the_service_with_an_audit_row(office, operator):
    response = _add(office, enabled=None, description="Pause the job")  # unticked box: disabled

    assert response.status_code == 302
    flag = FeatureFlag.objects.get()
    assert (flag.key, flag.enabled, flag.scope_type, flag.scope_id, flag.description) == (
        KEY, False, "global", None, "Pause the job"
    )
    (row,) = audit_rows("feature_flag")
    assert (row.action, row.actor_type, row.actor_id, row.resource_id) == (
        AuditAction.FEATURE_FLAG_SET, "admin", operator.pk, str(flag.pk)
    )
    assert row.details["before"] is None
    assert row.details["after"] == {"enabled": False, "description": "Pause the job"}


def test_add_a_scoped_flag(office):
    assert _add(office, scope_type="merchant", scope_id=USER_ID.upper()).status_code == 302

    flag = FeatureFlag.objects.get()
    assert (flag.scope_type, flag.scope_id, flag.enabled, flag.description) == (
        "merchant", uuid.UUID(USER_ID), True, None
    )


def test_add_of_an_existing_identity_is_the_same_upsert_as_put_r161(office):
    existing = FeatureFlagFactory(key=KEY, enabled=True, description="Kept?")

    response = _add(office, enabled=None, description="Replaced")

    assert response.status_code == 302
    flag = FeatureFlag.objects.get()
    assert (flag.pk, flag.enabled, flag.description) == (existing.pk, False, "Replaced")
    assert audit_rows("feature_flag")[-1].details["before"] == {"enabled": True, "description": "Kept?"}


@pytest.mark.parametrize(
    ("fields", "field", "needle"),
    [
        ({"key": "Bad-Key"}, "key", "lowercase"),
        ({"key": "x" * 101}, "key", ""),
        ({"scope_id": USER_ID}, "scope_id", "global"),  # global with an id
        ({"scope_type": "user"}, "scope_id", "FEATURE_FLAG_SCOPE_ID_REQUIRED"),
        ({"scope_type": "user", "scope_id": USER_ID.replace("-", "")}, "scope_id", "36-character"),
        ({"scope_type": "tenant", "scope_id": USER_ID}, "scope_type", ""),
        ({"description": "d" * 501}, "description", ""),
    ],
)
def test_add_refuses_what_the_api_refuses_and_stores_nothing(office, fields, field, needle):
    errors = admin_form_errors(_add(office, **fields))

    assert field in errors
    assert needle in " ".join(errors[field])
    assert not FeatureFlag.objects.exists() and not audit_rows("feature_flag")


def test_change_form_keeps_key_and_scope_read_only(office):
    flag = FeatureFlagFactory(key=KEY, scope_type="user", scope_id=uuid.UUID(USER_ID))

    response = office.get(f"{FLAGS}{flag.pk}/change/")

    assert response.status_code == 200
    assert set(response.context["adminform"].form.fields) == {"enabled", "description"}
    assert {"key", "scope_type", "scope_id"} <= set(response.context["adminform"].readonly_fields)


def test_change_form_sets_enabled_and_description_through_the_service_and_ignores_a_posted_key(office, operator):
    flag = FeatureFlagFactory(key=KEY, enabled=True, description=None)

    response = office.post(f"{FLAGS}{flag.pk}/change/", {
        "description": "Paused", "key": "hijacked", "scope_type": "user", "scope_id": USER_ID, "_save": "Save",
    })

    assert response.status_code == 302
    flag.refresh_from_db()
    assert (flag.key, flag.scope_type, flag.scope_id, flag.enabled, flag.description) == (
        KEY, "global", None, False, "Paused"
    )
    (row,) = audit_rows("feature_flag")
    assert (row.action, row.actor_id) == (AuditAction.FEATURE_FLAG_SET, operator.pk)
    assert (row.details["before"], row.details["after"]) == (
        {"enabled": True, "description": None}, {"enabled": False, "description": "Paused"}
    )


# --- Enable / Disable (admin.md §3) --------------------------------------------------------------


def test_disable_and_enable_actions_set_each_flag_through_the_service(office, operator):
    on = FeatureFlagFactory(enabled=True, description="Keep me")
    scoped_on = FeatureFlagFactory(scope_type="user", enabled=True)

    off = post_admin_action(office, FLAGS, "disable", [on, scoped_on])

    assert ("success", "2 succeeded, 0 failed.") in admin_messages(off)
    assert not FeatureFlag.objects.filter(enabled=True).exists()
    assert FeatureFlag.objects.get(pk=on.pk).description == "Keep me"  # description untouched
    rows = audit_rows("feature_flag", action=AuditAction.FEATURE_FLAG_SET)
    assert {r.resource_id for r in rows} == {str(on.pk), str(scoped_on.pk)}
    assert {(r.actor_type, r.actor_id, r.outcome) for r in rows} == {("admin", operator.pk, "success")}
    assert all(r.details["after"]["enabled"] is False for r in rows)

    back_on = post_admin_action(office, FLAGS, "enable", [on])
    assert ("success", "1 succeeded, 0 failed.") in admin_messages(back_on)
    assert FeatureFlag.objects.get(pk=on.pk).enabled is True
    assert len(audit_rows("feature_flag", action=AuditAction.FEATURE_FLAG_SET)) == 3


def test_enable_on_a_flag_already_enabled_reports_unchanged_without_audit(office):
    on, off = FeatureFlagFactory(enabled=True), FeatureFlagFactory(enabled=False)

    response = post_admin_action(office, FLAGS, "enable", [on, off])

    assert ("success", "1 succeeded, 0 failed, 1 unchanged.") in admin_messages(response)
    assert [r.resource_id for r in audit_rows("feature_flag")] == [str(off.pk)]


# --- Delete (R-8, R-165) -------------------------------------------------------------------------


def test_delete_page_deletes_one_flag_through_the_service_with_an_audit_row(office, operator):
    flag = FeatureFlagFactory(key=KEY, scope_type="merchant", enabled=False)
    other = FeatureFlagFactory(key=KEY)

    assert office.get(f"{FLAGS}{flag.pk}/delete/").status_code == 200
    response = office.post(f"{FLAGS}{flag.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert list(FeatureFlag.objects.all()) == [other]
    (row,) = audit_rows("feature_flag", action=AuditAction.FEATURE_FLAG_DELETED)
    assert (row.actor_type, row.actor_id, row.resource_id) == ("admin", operator.pk, str(flag.pk))
    assert row.details["before"] == {"enabled": False, "description": None}


def test_bulk_delete_removes_each_selected_flag_with_one_audit_row_each(office, operator):
    first, second = FeatureFlagFactory(), FeatureFlagFactory(scope_type="user")
    kept = FeatureFlagFactory()

    confirm = office.post(FLAGS, {"action": "delete_selected", "index": 0,
                                  "_selected_action": [str(first.pk), str(second.pk)]})
    assert confirm.status_code == 200  # Django's confirmation page first
    assert FeatureFlag.objects.count() == 3
    response = post_admin_action(office, FLAGS, "delete_selected", [first, second], post="yes")

    assert ("success", "2 succeeded, 0 failed.") in admin_messages(response)
    assert list(FeatureFlag.objects.all()) == [kept]
    rows = audit_rows("feature_flag", action=AuditAction.FEATURE_FLAG_DELETED)
    assert {r.resource_id for r in rows} == {str(first.pk), str(second.pk)}
    assert {(r.actor_type, r.actor_id) for r in rows} == {("admin", operator.pk)}


def test_add_page_offers_the_identity_fields(office):
    response = office.get(f"{FLAGS}add/")

    assert response.status_code == 200
    assert set(response.context["adminform"].form.fields) == {"key", "scope_type", "scope_id", "enabled",
                                                              "description"}
