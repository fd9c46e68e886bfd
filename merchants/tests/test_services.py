"""Merchant write use cases against PostgreSQL (R-30…R-35, R-153, R-190…R-193, R-209, R-211)."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from clicknback.audit.models import AuditAction, AuditLog
from clicknback.audit.services import Actor
from clicknback.errors import NotFound, ValidationFailed
from clicknback.testing import in_background, run_concurrently, wait_until_a_backend_waits_on_a_lock
from merchants import services
from merchants.exceptions import MerchantNameAlreadyExists
from merchants.models import Merchant
from merchants.tests.factories import MerchantFactory

SECRET_PATTERN = re.compile(r"^whsec_[0-9a-f]{64}$")


@pytest.fixture
def actor(admin_user):
    return Actor.of_user(admin_user)


def merchant_audits(merchant, action=None):
    rows = AuditLog.objects.filter(resource_type="merchant", resource_id=str(merchant.pk))
    return rows.filter(action=action) if action else rows


def violation_fields(exc_info):
    return [v["field"] for v in exc_info.value.details["violations"]]


# --- create_merchant ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_merchant_stores_clean_name_secret_and_audits_created_fields(actor):
    merchant = services.create_merchant(
        name="  Cafe\u0301 Central ", default_cashback_percentage=Decimal("3.50"), actor=actor
    )

    stored = Merchant.objects.get(pk=merchant.pk)
    assert stored.name == "Caf\u00e9 Central"  # NFC, then trimmed
    assert stored.default_cashback_percentage == Decimal("3.50")
    assert stored.active is True
    assert SECRET_PATTERN.match(stored.webhook_secret)
    assert stored.previous_webhook_secret is None
    audit = merchant_audits(merchant).get()
    assert audit.action == AuditAction.MERCHANT_CREATED
    assert (audit.actor_type, audit.actor_id) == ("admin", actor.id)
    assert audit.details == {"name": "Caf\u00e9 Central", "default_cashback_percentage": "3.50", "active": True}


@pytest.mark.django_db
def test_create_merchant_inactive_when_asked_r32(actor):
    merchant = services.create_merchant(name="Off", default_cashback_percentage=Decimal("0"), active=False,
                                        actor=actor)

    assert Merchant.objects.get(pk=merchant.pk).active is False


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["", "   ", "x" * 256])
def test_create_merchant_rejects_names_outside_1_to_255_after_trimming_r30(actor, name):
    with pytest.raises(ValidationFailed) as exc_info:
        services.create_merchant(name=name, default_cashback_percentage=Decimal("1"), actor=actor)

    assert violation_fields(exc_info) == ["name"]
    assert not Merchant.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "percentage", [Decimal("-0.01"), Decimal("20.01"), Decimal("100"), Decimal("5.001"), Decimal("5.000")]
)
def test_create_merchant_rejects_percentage_out_of_range_or_over_two_decimals_r31_r1(actor, percentage):
    with pytest.raises(ValidationFailed) as exc_info:
        services.create_merchant(name="Shop", default_cashback_percentage=percentage, actor=actor)

    assert violation_fields(exc_info) == ["default_cashback_percentage"]
    assert not Merchant.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("given", "stored"), [(Decimal("6"), "6.00"), (Decimal("-0.00"), "0.00"), (Decimal("0.5"), "0.50")])
def test_create_merchant_keeps_percentage_as_a_two_place_amount_everywhere(actor, given, stored):
    merchant = services.create_merchant(name="Shop", default_cashback_percentage=given, actor=actor)

    assert str(merchant.default_cashback_percentage) == stored  # what the API renders from
    assert str(Merchant.objects.get(pk=merchant.pk).default_cashback_percentage) == stored
    assert merchant_audits(merchant).get().details["default_cashback_percentage"] == stored


@pytest.mark.django_db
def test_create_merchant_honours_the_max_percentage_setting_r31(actor, settings):
    settings.MAX_CASHBACK_PERCENTAGE = Decimal("10.00")

    with pytest.raises(ValidationFailed):
        services.create_merchant(name="Shop", default_cashback_percentage=Decimal("10.01"), actor=actor)
    services.create_merchant(name="Shop", default_cashback_percentage=Decimal("10.00"), actor=actor)


@pytest.mark.django_db
def test_create_merchant_duplicate_name_case_insensitive_is_refused_without_audit_r203(actor):
    MerchantFactory(name="Acme")

    with pytest.raises(MerchantNameAlreadyExists) as exc_info:
        services.create_merchant(name=" aCME ", default_cashback_percentage=Decimal("1"), actor=actor)

    assert exc_info.value.details == {"name": "aCME"}
    assert Merchant.objects.count() == 1
    assert not AuditLog.objects.filter(resource_type="merchant").exists()


# --- update_merchant ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_update_merchant_audits_changed_fields_with_old_and_new_values_r211(actor):
    merchant = MerchantFactory(name="Old Name", default_cashback_percentage=Decimal("5.00"))

    services.update_merchant(
        merchant_id=merchant.pk, name=" New Name ", default_cashback_percentage=Decimal("7.25"), actor=actor
    )

    merchant.refresh_from_db()
    assert (merchant.name, merchant.default_cashback_percentage) == ("New Name", Decimal("7.25"))
    audit = merchant_audits(merchant, AuditAction.MERCHANT_UPDATED).get()
    assert (audit.actor_type, audit.actor_id) == ("admin", actor.id)
    assert audit.details == {
        "changed": ["default_cashback_percentage", "name"],
        "name": {"from": "Old Name", "to": "New Name"},
        "default_cashback_percentage": {"from": "5.00", "to": "7.25"},
    }
    assert merchant.webhook_secret not in str(audit.details)


@pytest.mark.django_db
def test_update_merchant_audits_only_the_field_that_changed(actor):
    merchant = MerchantFactory(name="Shop", default_cashback_percentage=Decimal("5.00"))

    services.update_merchant(merchant_id=merchant.pk, name="Shop", default_cashback_percentage=Decimal("6"),
                             actor=actor)

    audit = merchant_audits(merchant, AuditAction.MERCHANT_UPDATED).get()
    assert audit.details == {
        "changed": ["default_cashback_percentage"],
        "default_cashback_percentage": {"from": "5.00", "to": "6.00"},
    }


@pytest.mark.django_db
def test_update_merchant_case_only_rename_is_allowed_and_audited(actor):
    merchant = MerchantFactory(name="shop")

    services.update_merchant(merchant_id=merchant.pk, name="SHOP", default_cashback_percentage=Decimal("5.00"),
                             actor=actor)

    merchant.refresh_from_db()
    assert merchant.name == "SHOP"
    assert merchant_audits(merchant, AuditAction.MERCHANT_UPDATED).get().details["changed"] == ["name"]


@pytest.mark.django_db
def test_update_merchant_with_nothing_changed_writes_nothing(actor):
    merchant = MerchantFactory(name="Shop", default_cashback_percentage=Decimal("5.00"))
    before = Merchant.objects.get(pk=merchant.pk).updated_at

    # same values, in a different spelling: padded name, fewer decimals
    services.update_merchant(merchant_id=merchant.pk, name=" Shop ", default_cashback_percentage=Decimal("5"),
                             actor=actor)

    assert Merchant.objects.get(pk=merchant.pk).updated_at == before
    assert not merchant_audits(merchant).exists()


@pytest.mark.django_db
def test_update_merchant_to_a_taken_name_is_refused_and_changes_nothing_r30(actor):
    MerchantFactory(name="Taken")
    merchant = MerchantFactory(name="Mine", default_cashback_percentage=Decimal("5.00"))

    with pytest.raises(MerchantNameAlreadyExists):
        services.update_merchant(merchant_id=merchant.pk, name="TAKEN", default_cashback_percentage=Decimal("9"),
                                 actor=actor)

    merchant.refresh_from_db()
    assert (merchant.name, merchant.default_cashback_percentage) == ("Mine", Decimal("5.00"))
    assert not merchant_audits(merchant).exists()


@pytest.mark.django_db
def test_update_merchant_validates_percentage_r31(actor):
    merchant = MerchantFactory()

    with pytest.raises(ValidationFailed) as exc_info:
        services.update_merchant(merchant_id=merchant.pk, name="X", default_cashback_percentage=Decimal("20.01"),
                                 actor=actor)

    assert violation_fields(exc_info) == ["default_cashback_percentage"]


@pytest.mark.django_db
def test_update_merchant_unknown_id_is_not_found(actor):
    with pytest.raises(NotFound):
        services.update_merchant(merchant_id="00000000-0000-4000-8000-000000000000", name="X",
                                 default_cashback_percentage=Decimal("1"), actor=actor)


# --- set_merchant_active ------------------------------------------------------------------------


@pytest.mark.django_db
def test_set_merchant_active_changes_and_audits_from_to_r33(actor):
    merchant = MerchantFactory(active=True)

    result, changed = services.set_merchant_active(merchant_id=merchant.pk, active=False, actor=actor)

    assert changed is True and result.active is False
    assert Merchant.objects.get(pk=merchant.pk).active is False
    audit = merchant_audits(merchant).get()
    assert audit.action == AuditAction.MERCHANT_DEACTIVATED
    assert audit.details == {"from": "active", "to": "inactive"}

    services.set_merchant_active(merchant_id=merchant.pk, active=True, actor=actor)
    reactivated = merchant_audits(merchant, AuditAction.MERCHANT_ACTIVATED).get()
    assert reactivated.details == {"from": "inactive", "to": "active"}


@pytest.mark.django_db
@pytest.mark.parametrize("active", [True, False])
def test_set_merchant_active_to_current_value_is_a_no_op_without_audit_r33(actor, active):
    merchant = MerchantFactory(active=active)

    result, changed = services.set_merchant_active(merchant_id=merchant.pk, active=active, actor=actor)

    assert changed is False and result.active is active
    assert not merchant_audits(merchant).exists()


@pytest.mark.django_db
def test_set_merchant_active_by_system_actor_records_null_actor_id_r190(db):
    merchant = MerchantFactory(active=True)

    services.set_merchant_active(merchant_id=merchant.pk, active=False, actor=Actor.system())

    audit = merchant_audits(merchant).get()
    assert (audit.actor_type, audit.actor_id) == ("system", None)


# --- rotate_webhook_secret (R-153) --------------------------------------------------------------


@pytest.mark.django_db
def test_rotate_webhook_secret_keeps_previous_for_the_grace_period_r153(actor, settings):
    settings.WEBHOOK_SECRET_GRACE_HOURS = 24
    merchant = MerchantFactory()
    old_secret = merchant.webhook_secret
    before = timezone.now()

    services.rotate_webhook_secret(merchant_id=merchant.pk, actor=actor)

    after = timezone.now()
    merchant.refresh_from_db()
    assert SECRET_PATTERN.match(merchant.webhook_secret)
    assert merchant.webhook_secret != old_secret
    assert merchant.previous_webhook_secret == old_secret
    expires = merchant.previous_webhook_secret_expires_at
    assert before + timedelta(hours=24) <= expires <= after + timedelta(hours=24)


@pytest.mark.django_db
def test_rotate_webhook_secret_honours_the_grace_setting_r153(actor, settings):
    settings.WEBHOOK_SECRET_GRACE_HOURS = 2
    merchant = MerchantFactory()

    services.rotate_webhook_secret(merchant_id=merchant.pk, actor=actor)

    merchant.refresh_from_db()
    remaining = merchant.previous_webhook_secret_expires_at - timezone.now()
    assert timedelta(hours=1, minutes=59) < remaining <= timedelta(hours=2)


@pytest.mark.django_db
def test_rotate_webhook_secret_audit_never_contains_a_secret_r211(actor):
    merchant = MerchantFactory()
    old_secret = merchant.webhook_secret

    services.rotate_webhook_secret(merchant_id=merchant.pk, actor=actor)

    merchant.refresh_from_db()
    audit = merchant_audits(merchant).get()
    assert audit.action == AuditAction.MERCHANT_WEBHOOK_SECRET_ROTATED
    assert (audit.actor_type, audit.actor_id) == ("admin", actor.id)
    text = str(audit.details)
    assert old_secret not in text and merchant.webhook_secret not in text
    assert "whsec_" not in text


@pytest.mark.django_db
def test_rotating_twice_keeps_only_the_immediately_previous_secret_r153(actor):
    merchant = MerchantFactory()

    services.rotate_webhook_secret(merchant_id=merchant.pk, actor=actor)
    second_secret = Merchant.objects.get(pk=merchant.pk).webhook_secret
    services.rotate_webhook_secret(merchant_id=merchant.pk, actor=actor)

    merchant.refresh_from_db()
    assert merchant.previous_webhook_secret == second_secret
    assert merchant.webhook_secret != second_secret
    assert merchant_audits(merchant, AuditAction.MERCHANT_WEBHOOK_SECRET_ROTATED).count() == 2


@pytest.mark.django_db
def test_rotate_webhook_secret_unknown_id_is_not_found(actor):
    with pytest.raises(NotFound):
        services.rotate_webhook_secret(merchant_id="00000000-0000-4000-8000-000000000000", actor=actor)


# --- concurrent creation with one name ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_with_one_name_make_one_merchant_and_name_conflicts_r209():
    assert connection.vendor == "postgresql"
    thread_count = 8

    def create(index):
        # different spellings of one name: case and padding
        name = "Race Shop" if index % 2 else f"  race SHOP{' ' * index}"
        services.create_merchant(name=name, default_cashback_percentage=Decimal("1"), actor=Actor.system())
        return "created"

    outcomes = run_concurrently(create, thread_count)

    assert len(outcomes) == thread_count
    assert outcomes.count("created") == 1
    failures = [o for o in outcomes if o != "created"]
    assert all(isinstance(f, MerchantNameAlreadyExists) for f in failures), failures
    assert Merchant.objects.count() == 1
    assert AuditLog.objects.filter(action=AuditAction.MERCHANT_CREATED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_create_losing_on_the_unique_index_to_an_uncommitted_insert_is_name_conflict_r209():
    """The pre-check cannot see an uncommitted row; the unique index must still answer the 409."""

    def create():
        services.create_merchant(name="RACE", default_cashback_percentage=Decimal("1"), actor=Actor.system())
        return "created"

    thread, outcome = in_background(create)
    with transaction.atomic():
        MerchantFactory(name="Race")  # inserted, not yet committed
        thread.start()
        assert wait_until_a_backend_waits_on_a_lock(), "the concurrent insert never blocked on the unique index"
    thread.join(timeout=10)

    assert len(outcome) == 1 and isinstance(outcome[0], MerchantNameAlreadyExists), outcome
    assert list(Merchant.objects.values_list("name", flat=True)) == ["Race"]
