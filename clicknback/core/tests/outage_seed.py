"""Work for the job loops on a database of its own (test_job_outage.py runs it with
`manage.py shell -c`): a pending purchase, and an approved payout of a user with cashback available.
Prints their ids as one JSON line."""

import datetime as dt
import json
import uuid
from decimal import Decimal

from accounts.tests.factories import AdminFactory, UserFactory
from clicknback.audit.services import Actor
from merchants.tests.factories import MerchantFactory
from offers import services as offer_services
from payouts import services as payout_services
from payouts.views import render_payout
from purchases import services as purchase_services


def seed() -> None:
    today = dt.datetime.now(dt.UTC).date()
    tag = uuid.uuid4().hex[:10]  # factory sequences start again in every process
    merchant = MerchantFactory(name=f"Outage shop {tag}")
    offer_services.create_offer(
        merchant_id=merchant.pk, cashback_type="fixed", cashback_value=Decimal("100.00"), start_date=today,
        end_date=today + dt.timedelta(days=30), monthly_cap=Decimal("10000.00"), actor=Actor.system(),
    )
    user, admin = UserFactory(email=f"shopper-{tag}@example.com"), AdminFactory(email=f"ops-{tag}@example.com")

    def ingest():
        return purchase_services.ingest_purchase(
            user_id=user.pk, merchant_id=merchant.pk, external_id=f"outage-{uuid.uuid4().hex[:12]}",
            amount=Decimal("500.00"), currency="EUR", actor=Actor.of_user(user))

    purchase_services.confirm_purchase(purchase_id=ingest().pk, actor=Actor.system())  # 100.00 available
    payout = payout_services.request_payout(
        user=user, amount=Decimal("50.00"), method="bank_transfer", details={}, idempotency_key=None,
        actor=Actor.of_user(user), render=render_payout).payout
    payout_services.change_payout_status(payout_id=payout.pk, target="approved", actor=Actor.of_user(admin))
    print(json.dumps({"purchase": str(ingest().pk), "payout": str(payout.pk)}))
