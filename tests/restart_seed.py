"""The data of tests/test_db_restart_under_load.py, written by `manage.py shell -c` on the test's own
cluster: an operator, shoppers, and a merchant with a live 10 % offer whose monthly cap per user
(R-83) the load never reaches. Prints the ids as one JSON line."""

import datetime as dt
import json
from decimal import Decimal

from accounts import services as account_services
from clicknback.audit.services import Actor
from merchants import services as merchant_services
from offers import services as offer_services


def seed(shoppers: int, password: str) -> None:
    today = dt.datetime.now(dt.UTC).date()
    merchant = merchant_services.create_merchant(name="Restart shop", default_cashback_percentage=Decimal("5.00"),
                                                 actor=Actor.system())
    offer_services.create_offer(
        merchant_id=merchant.pk, cashback_type="percent", cashback_value=Decimal("10.00"),
        start_date=today, end_date=today + dt.timedelta(days=30),
        monthly_cap=Decimal("10000.00"), actor=Actor.system(),
    )
    account_services.create_account(email="ops@example.com", password=password, role="admin")
    users = [str(account_services.create_account(email=f"shopper{n}@example.com", password=password).pk)
             for n in range(shoppers)]
    print(json.dumps({"merchant": str(merchant.pk), "users": users}))
