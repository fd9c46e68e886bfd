"""R-34: print (or rotate, then print) a merchant's webhook secret — the secret alone on stdout."""

from django.core.management.base import BaseCommand, CommandError

from clicknback.audit.services import Actor
from clicknback.errors import NotFound
from merchants import selectors, services


class Command(BaseCommand):
    help = "Print a merchant's webhook secret; with --rotate, rotate it first (R-153)."

    def add_arguments(self, parser):
        parser.add_argument("merchant_id")
        parser.add_argument("--rotate", action="store_true", help="Rotate, keeping the old secret for the grace period.")

    def handle(self, *args, merchant_id, rotate, **options):
        try:
            merchant = selectors.get_merchant(merchant_id)
            if rotate:
                merchant = services.rotate_webhook_secret(merchant_id=merchant.pk, actor=Actor.system())
            else:
                services.forget_expired_webhook_secret(merchant_id=merchant.pk)  # cleared on read
        except NotFound as exc:
            raise CommandError(exc.message)
        self.stdout.write(merchant.webhook_secret)
