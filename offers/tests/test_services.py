"""Offer write use cases against PostgreSQL (R-40…R-52, R-190…R-193): create, activate, deactivate,
and the one-active-offer rule under concurrency (R-45)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from clicknback.audit.models import AuditAction, AuditLog
from clicknback.audit.services import Actor
from clicknback.errors import NotFound, ValidationFailed
from clicknback.testing import in_background, run_together, wait_until_a_backend_waits_on_a_lock
from merchants.tests.factories import MerchantFactory
from offers import services
from offers.exceptions import ActiveOfferAlreadyExists, MerchantNotActive
from offers.models import CashbackType, Offer
from offers.tests.factories import OfferFactory, days_from_today

D = Decimal
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def actor(admin_user):
    return Actor.of_user(admin_user)


def offer_audits(offer_id, action=None):
    rows = AuditLog.objects.filter(resource_type="offer", resource_id=str(offer_id))
    return rows.filter(action=action) if action else rows


def create(merchant, *, actor, **overrides):
    terms = {
        "merchant_id": merchant.pk, "cashback_type": CashbackType.PERCENT, "cashback_value": D("5.00"),
        "start_date": days_from_today(0), "end_date": days_from_today(30), "monthly_cap": D("50.00"),
        "active": True, **overrides,
    }
    return services.create_offer(**terms, actor=actor)


def violation_fields(exc_info):
    return sorted(v["field"] for v in exc_info.value.details["violations"])


# --- create_offer ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_offer_stores_the_terms_and_audits_offer_created_with_them(actor):
    merchant = MerchantFactory()

    offer = create(merchant, actor=actor, cashback_type=CashbackType.FIXED, cashback_value=D("2.50"),
                   end_date=days_from_today(10), monthly_cap=D("20.00"))

    stored = Offer.objects.get(pk=offer.pk)
    assert stored.merchant_id == merchant.pk
    assert stored.cashback_type == CashbackType.FIXED
    assert (stored.cashback_value, stored.monthly_cap_per_user) == (D("2.50"), D("20.00"))
    assert (stored.start_date, stored.end_date) == (days_from_today(0), days_from_today(10))
    assert stored.active is True
    audit = offer_audits(offer.pk).get()  # exactly one row, in the same transaction
    assert audit.action == AuditAction.OFFER_CREATED
    assert (audit.actor_type, audit.actor_id, audit.outcome) == ("admin", actor.id, "success")
    assert audit.details == {  # creations record the created fields
        "merchant_id": str(merchant.pk), "cashback_type": "fixed", "cashback_value": "2.50",
        "start_date": days_from_today(0).isoformat(), "end_date": days_from_today(10).isoformat(),
        "monthly_cap_per_user": "20.00", "active": True,
    }


@pytest.mark.django_db
def test_create_offer_inactive_when_asked_r47(actor):
    offer = create(MerchantFactory(), actor=actor, active=False)

    assert Offer.objects.get(pk=offer.pk).active is False
    assert offer_audits(offer.pk).get().details["active"] is False


@pytest.mark.django_db
def test_create_offer_one_day_window_starting_today_is_valid_r43(actor):
    offer = create(MerchantFactory(), actor=actor, start_date=days_from_today(0), end_date=days_from_today(0))

    assert Offer.objects.filter(pk=offer.pk, start_date=days_from_today(0), end_date=days_from_today(0)).exists()


@pytest.mark.django_db
def test_create_offer_reports_every_broken_term_at_once_and_stores_nothing_r52(actor):
    with pytest.raises(ValidationFailed) as exc_info:
        create(MerchantFactory(), actor=actor, cashback_value=D("20.01"), monthly_cap=D("0.00"),
               start_date=days_from_today(-1), end_date=days_from_today(-2))

    assert violation_fields(exc_info) == ["cashback_value", "end_date", "monthly_cap", "start_date"]
    assert not Offer.objects.exists()
    assert not AuditLog.objects.filter(resource_type="offer").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("field", "value"), [("cashback_value", D("5.001")), ("monthly_cap", D("10.005"))])
def test_create_offer_refuses_a_third_decimal_instead_of_letting_the_column_round_it_r1(actor, field, value):
    with pytest.raises(ValidationFailed) as exc_info:
        create(MerchantFactory(), actor=actor, **{field: value})

    assert violation_fields(exc_info) == [field]
    assert not Offer.objects.exists()


@pytest.mark.django_db
def test_create_offer_stores_returns_and_audits_amounts_with_two_decimals(actor):
    # api.md §0.1: what the caller gets back, what is stored and what is audited agree ("20.00", not "20").
    offer = create(MerchantFactory(), actor=actor, cashback_type=CashbackType.FIXED, cashback_value=D("20"),
                   monthly_cap=D("7.5"))

    assert (str(offer.cashback_value), str(offer.monthly_cap_per_user)) == ("20.00", "7.50")
    details = offer_audits(offer.pk).get().details
    assert (details["cashback_value"], details["monthly_cap_per_user"]) == ("20.00", "7.50")


@pytest.mark.django_db
def test_today_is_the_utc_date_not_the_server_local_date_r3(actor, settings, monkeypatch):
    from django.utils import timezone

    from offers import selectors

    settings.TIME_ZONE = "Pacific/Kiritimati"  # UTC+14: the local date is already 6 March
    monkeypatch.setattr(timezone, "now", lambda: dt.datetime(2026, 3, 5, 23, 30, tzinfo=dt.UTC))
    merchant = MerchantFactory()

    offer = create(merchant, actor=actor, start_date=dt.date(2026, 3, 5), end_date=dt.date(2026, 3, 5))
    with pytest.raises(ValidationFailed) as exc_info:
        create(merchant, actor=actor, active=False, start_date=dt.date(2026, 3, 4), end_date=dt.date(2026, 3, 9))

    assert violation_fields(exc_info) == ["start_date"]
    assert list(selectors.live_offers()) == [offer]  # 5 March is still "today"


@pytest.mark.django_db
def test_create_offer_term_rules_come_before_the_merchant_lookup_r52(actor):
    with pytest.raises(ValidationFailed):
        services.create_offer(
            merchant_id=UNKNOWN_ID, cashback_type=CashbackType.PERCENT, cashback_value=D("0.00"),
            start_date=days_from_today(0), end_date=days_from_today(1), monthly_cap=D("1.00"), actor=actor,
        )


@pytest.mark.django_db
def test_create_offer_for_unknown_merchant_is_not_found_r44(actor):
    with pytest.raises(NotFound) as exc_info:
        services.create_offer(
            merchant_id=UNKNOWN_ID, cashback_type=CashbackType.PERCENT, cashback_value=D("5.00"),
            start_date=days_from_today(0), end_date=days_from_today(1), monthly_cap=D("1.00"), actor=actor,
        )

    assert exc_info.value.details == {"resource_type": "merchant", "resource_id": UNKNOWN_ID}
    assert not Offer.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("active", [True, False])
def test_create_offer_for_inactive_merchant_is_refused_whatever_the_offer_flag_r44(actor, active):
    merchant = MerchantFactory(active=False)

    with pytest.raises(MerchantNotActive) as exc_info:
        create(merchant, actor=actor, active=active)

    assert exc_info.value.status == 422
    assert exc_info.value.details["merchant_id"] == str(merchant.pk)
    assert exc_info.value.details["action"]
    assert not Offer.objects.exists()


@pytest.mark.django_db
def test_inactive_merchant_is_reported_before_the_one_active_rule_r52(actor):
    current = OfferFactory()
    merchant = current.merchant
    merchant.active = False
    merchant.save()

    with pytest.raises(MerchantNotActive):
        create(merchant, actor=actor)


@pytest.mark.django_db
def test_second_active_offer_of_a_merchant_is_refused_naming_the_current_one_r45(actor):
    current = create(MerchantFactory(), actor=actor)

    with pytest.raises(ActiveOfferAlreadyExists) as exc_info:
        create(current.merchant, actor=actor, start_date=days_from_today(100), end_date=days_from_today(200))

    assert exc_info.value.status == 409
    assert exc_info.value.details["merchant_id"] == str(current.merchant_id)
    assert exc_info.value.details["active_offer_id"] == str(current.pk)
    assert exc_info.value.details["action"]
    assert list(Offer.objects.values_list("pk", flat=True)) == [current.pk]
    assert AuditLog.objects.filter(action=AuditAction.OFFER_CREATED).count() == 1


@pytest.mark.django_db
def test_an_active_offer_outside_its_window_still_blocks_a_second_active_one_r45(actor):
    expired = OfferFactory(start_date=days_from_today(-30), end_date=days_from_today(-1))

    with pytest.raises(ActiveOfferAlreadyExists):
        create(expired.merchant, actor=actor)  # "whatever the dates"


@pytest.mark.django_db
def test_inactive_offers_may_overlap_each_other_and_the_active_one_r46(actor):
    current = create(MerchantFactory(), actor=actor)

    successors = [create(current.merchant, actor=actor, active=False) for _ in range(2)]

    assert Offer.objects.filter(merchant=current.merchant).count() == 3
    assert Offer.objects.filter(merchant=current.merchant, active=True).get() == current
    assert all(not s.active for s in successors)


@pytest.mark.django_db
def test_an_offer_of_another_merchant_does_not_block_r45(actor):
    OfferFactory()

    offer = create(MerchantFactory(), actor=actor)

    assert offer.active is True


# --- set_offer_active -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_deactivate_then_activate_flip_the_flag_and_audit_from_and_to(actor):
    offer = OfferFactory()

    _, changed_off = services.set_offer_active(offer_id=offer.pk, active=False, actor=actor)
    assert changed_off is True
    assert Offer.objects.get(pk=offer.pk).active is False
    _, changed_on = services.set_offer_active(offer_id=offer.pk, active=True, actor=actor)
    assert changed_on is True
    assert Offer.objects.get(pk=offer.pk).active is True

    off = offer_audits(offer.pk, AuditAction.OFFER_DEACTIVATED).get()
    on = offer_audits(offer.pk, AuditAction.OFFER_ACTIVATED).get()
    assert off.details == {"from": "active", "to": "inactive"}
    assert on.details == {"from": "inactive", "to": "active"}
    assert (on.actor_type, on.actor_id) == ("admin", actor.id)


@pytest.mark.django_db
@pytest.mark.parametrize("active", [True, False])
def test_setting_the_current_status_again_changes_nothing_and_writes_no_audit(actor, active):
    offer = OfferFactory(active=active)
    before = Offer.objects.get(pk=offer.pk).updated_at

    returned, changed = services.set_offer_active(offer_id=offer.pk, active=active, actor=actor)

    assert changed is False
    assert returned.active is active
    assert Offer.objects.get(pk=offer.pk).updated_at == before
    assert not offer_audits(offer.pk).exists()


@pytest.mark.django_db
def test_activating_while_another_offer_of_the_merchant_is_active_is_refused_r45(actor):
    current = OfferFactory()
    other = OfferFactory(merchant=current.merchant, active=False)

    with pytest.raises(ActiveOfferAlreadyExists) as exc_info:
        services.set_offer_active(offer_id=other.pk, active=True, actor=actor)

    assert exc_info.value.details["active_offer_id"] == str(current.pk)
    assert exc_info.value.details["merchant_id"] == str(current.merchant_id)
    assert Offer.objects.get(pk=other.pk).active is False
    assert not offer_audits(other.pk).exists()  # the refusal itself writes nothing here


@pytest.mark.django_db
def test_scheduling_a_successor_deactivate_old_then_activate_new_r46(actor):
    old = OfferFactory()
    new = create(old.merchant, actor=actor, active=False, start_date=days_from_today(31), end_date=days_from_today(60))

    services.set_offer_active(offer_id=old.pk, active=False, actor=actor)
    services.set_offer_active(offer_id=new.pk, active=True, actor=actor)

    assert list(Offer.objects.filter(merchant=old.merchant, active=True).values_list("pk", flat=True)) == [new.pk]


@pytest.mark.django_db
def test_an_offer_of_an_inactive_merchant_may_be_activated_r49(actor):
    offer = OfferFactory(active=False, merchant=MerchantFactory(active=False))

    _, changed = services.set_offer_active(offer_id=offer.pk, active=True, actor=actor)

    assert changed is True
    assert Offer.objects.get(pk=offer.pk).active is True
    assert offer_audits(offer.pk, AuditAction.OFFER_ACTIVATED).exists()


@pytest.mark.django_db
def test_set_offer_active_unknown_id_is_not_found(actor):
    with pytest.raises(NotFound) as exc_info:
        services.set_offer_active(offer_id=UNKNOWN_ID, active=True, actor=actor)

    assert exc_info.value.details == {"resource_type": "offer", "resource_id": UNKNOWN_ID}


@pytest.mark.django_db
def test_terms_do_not_change_when_the_status_changes_r48(actor):
    offer = OfferFactory(cashback_value=D("3.30"), monthly_cap_per_user=D("12.00"))

    services.set_offer_active(offer_id=offer.pk, active=False, actor=actor)

    stored = Offer.objects.get(pk=offer.pk)
    assert (stored.cashback_value, stored.monthly_cap_per_user) == (D("3.30"), D("12.00"))
    assert (stored.start_date, stored.end_date) == (offer.start_date, offer.end_date)


# --- the database as the last line of defence -----------------------------------------------------


@pytest.mark.django_db
def test_partial_unique_index_refuses_a_second_active_offer_written_behind_the_services_back_r45():
    current = OfferFactory()
    other = OfferFactory(merchant=current.merchant, active=False)

    with pytest.raises(IntegrityError), transaction.atomic():
        Offer.objects.filter(pk=other.pk).update(active=True)

    assert Offer.objects.filter(merchant=current.merchant, active=True).count() == 1


@pytest.mark.django_db
def test_partial_unique_index_allows_any_number_of_inactive_offers_r46():
    merchant = MerchantFactory()
    OfferFactory.create_batch(3, merchant=merchant, active=False)
    OfferFactory(merchant=merchant)

    assert Offer.objects.filter(merchant=merchant).count() == 4


@pytest.mark.django_db
@pytest.mark.parametrize(
    "overrides",
    [
        {"cashback_value": D("0.00")},
        {"monthly_cap_per_user": D("0.00")},
        {"cashback_type": "bonus"},
        {"start_date": days_from_today(2), "end_date": days_from_today(1)},
    ],
    ids=["value-zero", "cap-zero", "unknown-type", "inverted-window"],
)
def test_check_constraints_refuse_impossible_terms_written_through_the_orm_r7(overrides):
    with pytest.raises(IntegrityError), transaction.atomic():
        OfferFactory(**overrides)


# --- R-45 under concurrency -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_racing_activations_of_two_offers_of_one_merchant_leave_exactly_one_active_r45():
    assert connection.vendor == "postgresql"
    merchant = MerchantFactory()
    offers = OfferFactory.create_batch(6, merchant=merchant, active=False)
    actor = Actor.system()

    outcomes = run_together(
        *[lambda o=o: services.set_offer_active(offer_id=o.pk, active=True, actor=actor) for o in offers]
    )

    winners = [o for o in outcomes if isinstance(o, tuple)]
    losers = [o for o in outcomes if not isinstance(o, tuple)]
    assert len(winners) == 1, outcomes
    assert all(isinstance(exc, ActiveOfferAlreadyExists) for exc in losers), losers  # never IntegrityError
    active = Offer.objects.get(merchant=merchant, active=True)
    assert active.pk == winners[0][0].pk
    assert AuditLog.objects.filter(action=AuditAction.OFFER_ACTIVATED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_racing_creations_of_active_offers_for_one_merchant_make_exactly_one_r45():
    merchant = MerchantFactory()
    actor = Actor.system()

    outcomes = run_together(*[lambda: create(merchant, actor=actor) for _ in range(6)])

    created = [o for o in outcomes if isinstance(o, Offer)]
    refused = [o for o in outcomes if not isinstance(o, Offer)]
    assert len(created) == 1, outcomes
    assert all(isinstance(exc, ActiveOfferAlreadyExists) for exc in refused), refused
    assert Offer.objects.filter(merchant=merchant).count() == 1
    assert AuditLog.objects.filter(action=AuditAction.OFFER_CREATED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_racing_identical_activations_of_one_offer_change_it_once_r45():
    """The offer row is locked first: the second caller finds it already active — a no-op, not a 409."""
    offer = OfferFactory(active=False)
    actor = Actor.system()

    outcomes = run_together(*[lambda: services.set_offer_active(offer_id=offer.pk, active=True, actor=actor)] * 4)

    assert all(isinstance(o, tuple) for o in outcomes), outcomes
    assert sorted(changed for _, changed in outcomes) == [False, False, False, True]
    assert Offer.objects.get(pk=offer.pk).active is True
    assert AuditLog.objects.filter(action=AuditAction.OFFER_ACTIVATED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_activation_losing_on_the_unique_index_to_an_uncommitted_activation_is_409_not_integrity_error_r45():
    """The pre-check cannot see an uncommitted activation; the partial index must still answer the 409."""
    merchant = MerchantFactory()
    first, second = OfferFactory.create_batch(2, merchant=merchant, active=False)
    thread, outcome = in_background(
        lambda: services.set_offer_active(offer_id=second.pk, active=True, actor=Actor.system()))

    with transaction.atomic():
        Offer.objects.filter(pk=first.pk).update(active=True)  # not yet committed
        thread.start()
        assert wait_until_a_backend_waits_on_a_lock(), "the concurrent activation never blocked on the index"
    thread.join(timeout=10)

    assert len(outcome) == 1 and isinstance(outcome[0], ActiveOfferAlreadyExists), outcome
    assert outcome[0].details["active_offer_id"] == str(first.pk)
    assert list(Offer.objects.filter(active=True).values_list("pk", flat=True)) == [first.pk]
    assert not AuditLog.objects.filter(action=AuditAction.OFFER_ACTIVATED).exists()


@pytest.mark.django_db(transaction=True)
def test_creation_losing_on_the_unique_index_to_an_uncommitted_offer_is_409_not_integrity_error_r45():
    merchant = MerchantFactory()
    thread, outcome = in_background(lambda: create(merchant, actor=Actor.system()))

    with transaction.atomic():
        first = OfferFactory(merchant=merchant)  # inserted, not yet committed
        thread.start()
        assert wait_until_a_backend_waits_on_a_lock(), "the concurrent insert never blocked on the index"
    thread.join(timeout=10)

    assert len(outcome) == 1 and isinstance(outcome[0], ActiveOfferAlreadyExists), outcome
    assert outcome[0].details["active_offer_id"] == str(first.pk)
    assert Offer.objects.filter(merchant=merchant).count() == 1
    assert not AuditLog.objects.filter(action=AuditAction.OFFER_CREATED).exists()
