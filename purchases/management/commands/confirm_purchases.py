"""`manage.py confirm_purchases [--once] [--interval 60] [--batch-size 100]` (R-170…R-176)."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from clicknback import metrics
from clicknback.jobs import JobLoop, PassCounts
from clicknback.progress import Progress
from purchases.confirmation import run_pass


class Command(BaseCommand):
    help = "Verify pending purchases and confirm, reject or defer them. Safe to run as several workers."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run a single pass and exit.")
        parser.add_argument("--interval", type=int, default=settings.PURCHASE_CONFIRMATION_INTERVAL_SECONDS,
                            help="Seconds between passes, and before a deferred purchase is retried.")
        parser.add_argument("--batch-size", type=int, default=100, help="Most purchases per pass.")

    def handle(self, *args, once, interval, batch_size, **options):
        if batch_size < 1 or interval < 1:
            # 0 or less would busy-loop the workers and make deferred purchases due at once.
            raise CommandError("--batch-size and --interval must be at least 1.")
        loop = JobLoop(name="confirm_purchases", interval=interval)

        def one_pass():
            with Progress("confirm_purchases", total=batch_size, unit="purchases", stream=self.stderr) as progress:
                summary = run_pass(batch_size=batch_size, interval=timedelta(seconds=interval),
                                   should_stop=progress.counting_checks(loop.stop_requested))
            metrics.job_pass(job="confirm_purchases", handled=summary.claimed, failed=summary.errors)
            self.stdout.write(f"confirm_purchases: {summary}")
            return PassCounts(handled=summary.claimed, failed=summary.errors)

        loop.run(one_pass, once=once)
