"""Reads of merchants."""

from django.db.models import QuerySet
from django.db.models.functions import Lower

from clicknback.errors import NotFound
from clicknback.fields import parse_uuid
from merchants.models import Merchant


def list_merchants(*, active: bool | None = None) -> QuerySet[Merchant]:
    """Sorted by name case-insensitively, then id (api.md §0.5)."""
    merchants = Merchant.objects.all()
    if active is not None:
        merchants = merchants.filter(active=active)
    return merchants.order_by(Lower("name"), "id")


def get_merchant(merchant_id) -> Merchant:
    """The merchant, or NOT_FOUND; a malformed id is simply one that does not exist."""
    parsed = parse_uuid(merchant_id)
    merchant = Merchant.objects.filter(pk=parsed).first() if parsed else None
    if merchant is None:
        raise NotFound("merchant", merchant_id)
    return merchant
