"""Demo data for `make run`: a demo admin, a demo user and a few merchants.

Idempotent: existing rows are kept, never duplicated. The two demo accounts get a freshly
generated password on every run (printed below), so the printed logins always work.
"""

import secrets
import string
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.models import Role
from clicknback.audit.services import Actor
from merchants import services as merchant_services
from merchants.models import Merchant

DEMO_ADMIN_EMAIL = "admin@demo.clicknback.test"
DEMO_USER_EMAIL = "user@demo.clicknback.test"
DEMO_MERCHANTS = [
    ("Amazonia Books", Decimal("5.00"), True),
    ("Nordic Outdoor", Decimal("7.50"), True),
    ("Pixel Electronics", Decimal("3.00"), True),
    ("Closed Boutique", Decimal("2.00"), False),
]


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
                if not Merchant.objects.filter(name__iexact=name).exists():
                    merchant_services.create_merchant(
                        name=name, default_cashback_percentage=percentage, active=active, actor=Actor.system()
                    )
        self.stdout.write("Demo data ready. Logins (passwords are regenerated on every run):")
        for role, email, password in logins:
            self.stdout.write(f"  {role:<5}  {email}  {password}")
