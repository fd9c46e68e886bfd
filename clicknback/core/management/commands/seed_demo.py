"""Demo data for `make run`: a demo admin, a demo user, a few merchants with live offers, and
purchases of the demo user in every state (pending, confirmed, rejected, reversed).

Idempotent: existing rows are kept, never duplicated. The two demo accounts get a freshly
generated password on every run (printed below), so the printed logins always work.
"""

import datetime as dt
import secrets
import string
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.models import Role
from clicknback.audit.services import Actor
from clicknback.core.scale_data import build_scale_data
from clicknback.progress import Progress
from merchants import services as merchant_services
from merchants.models import Merchant, with_name
from offers import selectors as offer_selectors
from offers import services as offer_services
from purchases import services as purchase_services
from purchases.models import Purchase

DEMO_ADMIN_EMAIL = "admin@demo.clicknback.test"
DEMO_USER_EMAIL = "user@demo.clicknback.test"
DEMO_MERCHANTS = [
    ("Amazonia Books", Decimal("5.00"), True),
    ("Nordic Outdoor", Decimal("7.50"), True),
    ("Pixel Electronics", Decimal("3.00"), True),
    ("Closed Boutique", Decimal("2.00"), False),
]
# Live offers of the active demo merchants: (merchant, type, value, monthly cap).
DEMO_OFFERS = [
    ("Amazonia Books", "percent", Decimal("5.00"), Decimal("50.00")),
    ("Nordic Outdoor", "fixed", Decimal("4.00"), Decimal("20.00")),
    ("Pixel Electronics", "percent", Decimal("2.50"), Decimal("100.00")),
]
# The demo user's purchases: (external id, merchant, amount, what happens after ingestion).
DEMO_PURCHASES = [
    ("demo-order-1", "Amazonia Books", Decimal("59.90"), "pending"),
    ("demo-order-2", "Amazonia Books", Decimal("120.00"), "confirmed"),
    ("demo-order-3", "Nordic Outdoor", Decimal("89.00"), "confirmed"),
    ("demo-order-4", "Pixel Electronics", Decimal("349.99"), "rejected"),
    ("demo-order-5", "Pixel Electronics", Decimal("19.99"), "reversed"),
    ("demo-order-6", "Nordic Outdoor", Decimal("45.00"), "pending"),
]


def one_year_after(day: dt.date) -> dt.date:
    """The same date next year; 28 February when `day` is 29 February (R-224: every day of the year)."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def generate_password() -> str:
    """16 random characters that satisfy R-11 (every character class present)."""
    alphabet = string.ascii_letters + string.digits + "!#%+-=?@"
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(16))
        if (any(c.isupper() for c in candidate) and any(c.islower() for c in candidate)
                and any(c.isdigit() for c in candidate) and any(not c.isalnum() for c in candidate)):
            return candidate


class Command(BaseCommand):
    help = "Create (or refresh) the demo admin, demo user and demo merchants; prints the logins."

    def add_arguments(self, parser):
        parser.add_argument("--scale", type=int, default=0, metavar="N",
                            help="also build the scale data set with N purchases (clicknback/core/scale_data.py)")

    def handle(self, *args, **options):
        logins = []
        with transaction.atomic():
            for email, role in ((DEMO_ADMIN_EMAIL, Role.ADMIN), (DEMO_USER_EMAIL, Role.USER)):
                password = generate_password()
                user = account_selectors.find_user_by_email(email)
                if user is None:
                    user = account_services.create_account(email=email, password=password, role=role)
                else:
                    account_services.set_user_password(user_id=user.pk, password=password, actor=Actor.system())
                logins.append((role, email, password))
            for name, percentage, active in DEMO_MERCHANTS:
                if not with_name(Merchant.objects.all(), name).exists():
                    merchant_services.create_merchant(
                        name=name, default_cashback_percentage=percentage, active=active, actor=Actor.system()
                    )
            self._seed_offers()
            self._seed_purchases(account_selectors.find_user_by_email(DEMO_USER_EMAIL))
        self.stdout.write(
            f"Demo data ready: {Merchant.objects.count()} merchants, "
            f"{Purchase.objects.filter(external_id__startswith='demo-order-').count()} demo purchases."
        )
        self.stdout.write("Logins (passwords are regenerated on every run):")
        for role, email, password in logins:
            self.stdout.write(f"  {role:<5}  {email}  {password}")
        if options["scale"]:
            # Steps on a terminal only (issue 10), then one summary line.
            with Progress("seed_demo --scale", stream=self.stderr) as progress:
                summary = build_scale_data(purchases=options["scale"], progress=progress.set_phase)
            self.stdout.write(summary.describe())

    def _seed_offers(self) -> None:
        today = offer_selectors.today_utc()
        for merchant_name, cashback_type, value, cap in DEMO_OFFERS:
            merchant = with_name(Merchant.objects.all(), merchant_name).get()
            if offer_selectors.live_offer_for_merchant(merchant.pk, on=today) is not None:
                continue
            if offer_selectors.active_offer_of(merchant.pk) is not None:
                continue  # an operator's own active offer (maybe future-dated) is left alone
            offer_services.create_offer(
                merchant_id=merchant.pk, cashback_type=cashback_type, cashback_value=value, start_date=today,
                end_date=one_year_after(today), monthly_cap=cap, actor=Actor.system(),
            )

    def _seed_purchases(self, user) -> None:
        actor = Actor.of_user(user)
        for external_id, merchant_name, amount, fate in DEMO_PURCHASES:
            merchant = with_name(Merchant.objects.all(), merchant_name).get()
            if Purchase.objects.filter(merchant=merchant, external_id=external_id).exists():
                continue
            if offer_selectors.live_offer_for_merchant(merchant.pk, on=offer_selectors.today_utc()) is None:
                continue
            purchase = purchase_services.ingest_purchase(
                user_id=user.pk, merchant_id=merchant.pk, external_id=external_id, amount=amount, currency="EUR",
                actor=actor,
            )
            if fate in ("confirmed", "reversed"):
                purchase_services.confirm_purchase(purchase_id=purchase.pk, actor=Actor.system())
            if fate == "reversed":
                purchase_services.reverse_purchase(purchase_id=purchase.pk, reason="Demo: order returned",
                                                   actor=Actor.system())
            if fate == "rejected":
                purchase_services.reject_purchase(
                    purchase_id=purchase.pk, reason="Demo: no matching bank movement", actor=Actor.system()
                )
