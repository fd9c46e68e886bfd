"""Reads of purchases: admin and user lists, details."""

import datetime as dt

from django.db.models import QuerySet

from clicknback.errors import NotFound
from clicknback.fields import parse_uuid
from clicknback.query import within_utc_days
from purchases.models import Purchase

ALL_STATUSES = ["pending", "confirmed", "rejected", "reversed"]


def list_purchases(*, status: str | None = None, user_id=None, merchant_id=None,
                   start_date: dt.date | None = None, end_date: dt.date | None = None) -> QuerySet[Purchase]:
    """Admin list: newest first; date bounds are inclusive UTC days on created_at."""
    purchases = Purchase.objects.all()
    if status is not None:
        purchases = purchases.filter(status=status)
    if user_id is not None:
        purchases = purchases.filter(user_id=user_id)
    if merchant_id is not None:
        purchases = purchases.filter(merchant_id=merchant_id)
    purchases = within_utc_days(purchases, "created_at", start_date, end_date)
    return purchases.order_by("-created_at", "id")


def purchases_of_user(user_id, *, status: str | None = None) -> QuerySet[Purchase]:
    """The user's own purchases with merchant name and cashback status in the same query."""
    purchases = Purchase.objects.filter(user_id=user_id).select_related("merchant", "cashback_transaction")
    if status is not None:
        purchases = purchases.filter(status=status)
    return purchases.order_by("-created_at", "id")


def get_purchase_for(purchase_id, *, viewer) -> Purchase:
    """Details for the owner or an admin; for anyone else another user's purchase does not exist."""
    parsed = parse_uuid(purchase_id)
    purchase = (
        Purchase.objects.select_related("merchant", "cashback_transaction").filter(pk=parsed).first()
        if parsed else None
    )
    if purchase is None or (not viewer.is_admin and purchase.user_id != viewer.pk):
        raise NotFound("purchase", purchase_id)
    return purchase


def get_purchase(purchase_id) -> Purchase:
    parsed = parse_uuid(purchase_id)
    purchase = Purchase.objects.filter(pk=parsed).first() if parsed else None
    if purchase is None:
        raise NotFound("purchase", purchase_id)
    return purchase
