"""Reads of offers."""

import datetime as dt

from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from clicknback.errors import NotFound
from clicknback.fields import parse_uuid
from offers.models import Offer


def today_utc() -> dt.date:
    """R-3: "today" is the current UTC date."""
    return timezone.now().astimezone(dt.UTC).date()


def list_offers(*, include_inactive_merchants: bool, active: bool | None = None, merchant_id=None,
                date_from: dt.date | None = None, date_to: dt.date | None = None) -> QuerySet[Offer]:
    """api.md GET /offers: newest first; non-admins never see offers of inactive merchants (R-33)."""
    offers = Offer.objects.all()
    if not include_inactive_merchants:
        offers = offers.filter(merchant__active=True)
    if active is not None:
        offers = offers.filter(active=active)
    if merchant_id is not None:
        offers = offers.filter(merchant_id=merchant_id)
    if date_from is not None:
        offers = offers.filter(end_date__gte=date_from)
    if date_to is not None:
        offers = offers.filter(start_date__lte=date_to)
    return offers.order_by("-created_at", "id")


def live_offers(*, on: dt.date | None = None) -> QuerySet[Offer]:
    """R-50: active offer, active merchant, day in the window; sorted by merchant name, then id."""
    day = on or today_utc()
    return (
        Offer.objects.filter(active=True, merchant__active=True, start_date__lte=day, end_date__gte=day)
        .select_related("merchant")
        .annotate(merchant_name_lower=Lower("merchant__name"))
        .order_by("merchant_name_lower", "id")
    )


LIVE_OFFER_ROW_FIELDS = ("id", "merchant__name", "cashback_type", "cashback_value", "monthly_cap_per_user",
                         "start_date", "end_date")


def live_offer_rows(*, on: dt.date | None = None) -> QuerySet:
    """live_offers() as plain rows (GET /offers/active: one COUNT, one page, no model instances)."""
    return live_offers(on=on).values(*LIVE_OFFER_ROW_FIELDS)


def live_offer_for_merchant(merchant_id, *, on: dt.date) -> Offer | None:
    """R-67: the merchant's live offer for `on` (at most one exists, R-45)."""
    return live_offers(on=on).filter(merchant_id=merchant_id).first()


def get_offer(offer_id) -> Offer:
    parsed = parse_uuid(offer_id)
    offer = Offer.objects.select_related("merchant").filter(pk=parsed).first() if parsed else None
    if offer is None:
        raise NotFound("offer", offer_id)
    return offer


def active_offer_of(merchant_id, *, excluding=None) -> Offer | None:
    offers = Offer.objects.filter(merchant_id=merchant_id, active=True)
    if excluding is not None:
        offers = offers.exclude(pk=excluding)
    return offers.first()


