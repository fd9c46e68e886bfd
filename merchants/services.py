"""Write use cases of merchants: create, edit, activate/deactivate, rotate the webhook secret."""

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from clicknback.audit import services as audit
from clicknback.audit.models import AuditAction
from clicknback.audit.services import Actor
from clicknback.errors import NotFound, ValidationFailed, violation
from clicknback.fields import normalize_name
from merchants import policies
from merchants.exceptions import MerchantNameAlreadyExists
from merchants.models import Merchant, with_name


def _clean_name(name: str) -> str:
    cleaned = normalize_name(name)
    if not 1 <= len(cleaned) <= policies.NAME_MAX_LENGTH:
        raise ValidationFailed([violation("name", "Must be 1 to 255 characters after trimming.")])
    return cleaned


def _clean_percentage(value: Decimal) -> Decimal:
    problem = policies.percentage_problem(value)
    if problem:
        raise ValidationFailed([violation("default_cashback_percentage", problem)])
    # Stored, returned and audited as a 2-place amount: "6" is "6.00", "-0.00" is "0.00" (api.md §0.1).
    return value.quantize(Decimal("0.01")).copy_abs()


def _name_taken(name: str, *, exclude_id=None) -> bool:
    others = with_name(Merchant.objects.all(), name)
    if exclude_id is not None:
        others = others.exclude(pk=exclude_id)
    return others.exists()


def _save_guarding_name(merchant: Merchant, **save_kwargs) -> None:
    try:
        with transaction.atomic():
            merchant.save(**save_kwargs)
    except IntegrityError:
        # a concurrent create/rename with the same name loses on the unique index.
        raise MerchantNameAlreadyExists(merchant.name)


def create_merchant(*, name: str, default_cashback_percentage: Decimal, active: bool = True,
                    actor: Actor) -> Merchant:
    """R-30…R-34: trimmed unique name, bounded percentage, a fresh webhook secret."""
    name = _clean_name(name)
    default_cashback_percentage = _clean_percentage(default_cashback_percentage)
    with transaction.atomic():
        if _name_taken(name):
            raise MerchantNameAlreadyExists(name)
        merchant = Merchant(
            name=name,
            default_cashback_percentage=default_cashback_percentage,
            active=active,
            webhook_secret=policies.new_webhook_secret(),
        )
        _save_guarding_name(merchant, force_insert=True)
        audit.record(
            actor=actor,
            action=AuditAction.MERCHANT_CREATED,
            resource_type="merchant",
            resource_id=merchant.id,
            details={
                "name": merchant.name,
                "default_cashback_percentage": str(merchant.default_cashback_percentage),
                "active": merchant.active,
            },
        )
    return merchant


def _lock(merchant_id) -> Merchant:
    merchant = Merchant.objects.select_for_update().filter(pk=merchant_id).first()
    if merchant is None:
        raise NotFound("merchant", merchant_id)
    return merchant


def update_merchant(*, merchant_id, name: str, default_cashback_percentage: Decimal, actor: Actor) -> Merchant:
    """Back-office edit of name and default percentage; MERCHANT_UPDATED with old/new values (R-211)."""
    name = _clean_name(name)
    default_cashback_percentage = _clean_percentage(default_cashback_percentage)
    with transaction.atomic():
        merchant = _lock(merchant_id)
        changes = {}
        if merchant.name != name:
            if _name_taken(name, exclude_id=merchant.pk):
                raise MerchantNameAlreadyExists(name)
            changes["name"] = {"from": merchant.name, "to": name}
            merchant.name = name
        if merchant.default_cashback_percentage != default_cashback_percentage:
            changes["default_cashback_percentage"] = {
                "from": str(merchant.default_cashback_percentage),
                "to": str(default_cashback_percentage),
            }
            merchant.default_cashback_percentage = default_cashback_percentage
        if not changes:
            return merchant
        _save_guarding_name(merchant, update_fields=["name", "default_cashback_percentage", "updated_at"])
        audit.record(
            actor=actor,
            action=AuditAction.MERCHANT_UPDATED,
            resource_type="merchant",
            resource_id=merchant.id,
            details={"changed": sorted(changes), **changes},
        )
    return merchant


def set_merchant_active(*, merchant_id, active: bool, actor: Actor) -> tuple[Merchant, bool]:
    """R-33: idempotent; returns (merchant, changed). No audit row when nothing changed."""
    with transaction.atomic():
        merchant = _lock(merchant_id)
        if merchant.active == active:
            return merchant, False
        merchant.active = active
        merchant.save(update_fields=["active", "updated_at"])
        audit.record(
            actor=actor,
            action=AuditAction.MERCHANT_ACTIVATED if active else AuditAction.MERCHANT_DEACTIVATED,
            resource_type="merchant",
            resource_id=merchant.id,
            details={"from": "inactive" if active else "active", "to": "active" if active else "inactive"},
        )
    return merchant, True


def rotate_webhook_secret(*, merchant_id, actor: Actor) -> Merchant:
    """R-153: the current secret stays valid for WEBHOOK_SECRET_GRACE_HOURS; a new one is made."""
    with transaction.atomic():
        merchant = _lock(merchant_id)
        grace_until = timezone.now() + timedelta(hours=settings.WEBHOOK_SECRET_GRACE_HOURS)
        merchant.previous_webhook_secret = merchant.webhook_secret
        merchant.previous_webhook_secret_expires_at = grace_until
        merchant.webhook_secret = policies.new_webhook_secret()
        merchant.save(
            update_fields=[
                "webhook_secret", "previous_webhook_secret", "previous_webhook_secret_expires_at", "updated_at",
            ]
        )
        audit.record(
            actor=actor,
            action=AuditAction.MERCHANT_WEBHOOK_SECRET_ROTATED,
            resource_type="merchant",
            resource_id=merchant.id,
            details={"previous_secret_valid_until": grace_until.strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
        )
    return merchant


def forget_expired_webhook_secret(*, merchant_id, now=None) -> bool:
    """R-223: once its grace period has ended, the previous secret is cleared (on the next read or
    rotation). One conditional UPDATE, so concurrent readers cannot clear a freshly rotated one."""
    now = now or timezone.now()
    cleared = Merchant.objects.filter(
        pk=merchant_id, previous_webhook_secret_expires_at__lte=now,
    ).update(previous_webhook_secret=None, previous_webhook_secret_expires_at=None)
    return bool(cleared)
