from decimal import Decimal

import factory

from merchants.models import Merchant
from merchants.policies import new_webhook_secret


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    name = factory.Sequence(lambda n: f"Merchant {n:04d}")
    default_cashback_percentage = Decimal("5.00")
    active = True
    webhook_secret = factory.LazyFunction(new_webhook_secret)
