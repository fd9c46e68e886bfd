"""`manage.py merchant_webhook_secret <merchant_id> [--rotate]` (R-34, R-153)."""

import re
import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from clicknback.audit.models import AuditAction, AuditLog
from merchants.models import Merchant
from merchants.tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db

SECRET_PATTERN = re.compile(r"^whsec_[0-9a-f]{64}$")


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("merchant_webhook_secret", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_prints_only_the_current_secret_and_changes_nothing_r34():
    merchant = MerchantFactory()

    out, err = run(str(merchant.pk))

    assert out == merchant.webhook_secret + "\n"
    assert err == ""
    assert Merchant.objects.get(pk=merchant.pk).webhook_secret == merchant.webhook_secret
    assert not AuditLog.objects.filter(resource_type="merchant").exists()


def test_accepts_an_uppercase_merchant_id():
    merchant = MerchantFactory()

    out, _ = run(str(merchant.pk).upper())

    assert out == merchant.webhook_secret + "\n"


def test_rotate_prints_only_the_new_secret_and_keeps_the_old_one_for_the_grace_period_r153():
    merchant = MerchantFactory()
    old_secret = merchant.webhook_secret

    out, err = run(str(merchant.pk), "--rotate")

    merchant.refresh_from_db()
    assert out == merchant.webhook_secret + "\n"
    assert err == ""
    assert SECRET_PATTERN.match(out.rstrip("\n"))
    assert merchant.webhook_secret != old_secret
    assert merchant.previous_webhook_secret == old_secret
    assert merchant.previous_webhook_secret_expires_at is not None


def test_rotate_is_audited_as_system_without_the_secret_r190_r193():
    merchant = MerchantFactory()
    old_secret = merchant.webhook_secret

    out, _ = run(str(merchant.pk), "--rotate")

    audit = AuditLog.objects.get(resource_type="merchant", resource_id=str(merchant.pk))
    assert audit.action == AuditAction.MERCHANT_WEBHOOK_SECRET_ROTATED
    assert (audit.actor_type, audit.actor_id) == ("system", None)
    assert out.strip() not in str(audit.details) and old_secret not in str(audit.details)


def test_printing_after_a_rotation_shows_the_new_secret():
    merchant = MerchantFactory()

    rotated, _ = run(str(merchant.pk), "--rotate")
    shown, _ = run(str(merchant.pk))

    assert shown == rotated


@pytest.mark.parametrize("merchant_id", [str(uuid.uuid4()), "not-a-uuid"])
@pytest.mark.parametrize("extra", [(), ("--rotate",)])
def test_unknown_or_malformed_id_is_a_command_error_and_prints_nothing(merchant_id, extra):
    out = StringIO()

    with pytest.raises(CommandError) as exc_info:
        call_command("merchant_webhook_secret", merchant_id, *extra, stdout=out)

    assert merchant_id in str(exc_info.value)
    assert out.getvalue() == ""
    assert not AuditLog.objects.filter(resource_type="merchant").exists()
