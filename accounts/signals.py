"""Seams for other apps.

`account_created` is sent inside the registration transaction (R-13): the wallets app connects a
receiver that creates the user's wallet, so a failure there rolls the registration back too.
"""

from django.dispatch import Signal

account_created = Signal()  # kwargs: user
