"""`manage.py process_payouts [--once] [--interval 60] [--batch-size 50] [--dry-run] [--csv FILE]`
(R-177…R-181)."""

import csv
import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from clicknback import metrics
from clicknback.jobs import JobLoop, PassCounts
from clicknback.progress import Progress
from clicknback.flags.selectors import is_enabled
from payouts.processing import AUTO_PROCESS_FLAG
from payouts.processing import dry_run as dry_run_payouts
from payouts.processing import run_pass

CSV_COLUMNS = ["payout_id", "user_id", "user_email", "amount", "currency", "method", "status",
               "external_reference", "status_reason", "processed_at"]


class Command(BaseCommand):
    help = "Pay approved payouts through the payment provider. Safe to run as several workers."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run a single pass and exit.")
        parser.add_argument("--interval", type=int, default=settings.PAYOUT_PROCESS_INTERVAL_SECONDS)
        parser.add_argument("--batch-size", type=int, default=50)
        parser.add_argument("--dry-run", action="store_true", help="List what would be paid; change nothing.")
        parser.add_argument("--csv", metavar="FILE", dest="csv_path",
                            help="Append one row per payout paid or failed by this run (for finance).")

    def handle(self, *args, once, interval, batch_size, dry_run: bool, csv_path: str | None, **options):
        if batch_size < 1 or interval < 1:
            raise CommandError("--batch-size and --interval must be at least 1.")  # 0 would busy-loop
        if dry_run:
            if not is_enabled(AUTO_PROCESS_FLAG):
                self.stdout.write(f"{AUTO_PROCESS_FLAG} is off: a pass would pay nothing now.")
                return
            for payout in dry_run_payouts(batch_size=batch_size):
                self.stdout.write(f"would pay {payout.pk} {payout.amount} {payout.currency} to {payout.user.email} "
                                  f"({payout.status})")
            return
        if csv_path:
            self._check_writable(csv_path)
        loop = JobLoop(name="process_payouts", interval=interval)

        def one_pass():
            with Progress("process_payouts", total=batch_size, unit="payouts", stream=self.stderr) as progress:
                summary = run_pass(batch_size=batch_size, should_stop=progress.counting_checks(loop.stop_requested))
            metrics.job_pass(job="process_payouts", handled=summary.claimed, failed=summary.errors)
            if csv_path and summary.finished:
                self._write_csv(csv_path, summary.finished)
            self.stdout.write(f"process_payouts: {summary}")
            return PassCounts(handled=summary.claimed, failed=summary.errors)

        loop.run(one_pass, once=once)

    @staticmethod
    def _check_writable(path: str) -> None:
        """Refuse a report file that cannot be written before any money moves, not after."""
        try:
            with open(path, "a", newline=""):
                pass
        except OSError as exc:
            raise CommandError(f"Cannot write the CSV report {path!r}: {exc}") from exc

    @staticmethod
    def _write_csv(path: str, payouts) -> None:
        new_file = not os.path.exists(path) or os.path.getsize(path) == 0
        with open(path, "a", newline="") as handle:
            writer = csv.writer(handle)
            if new_file:
                writer.writerow(CSV_COLUMNS)
            for payout in payouts:
                writer.writerow([
                    payout.pk, payout.user_id, payout.user.email, f"{payout.amount:.2f}", payout.currency,
                    payout.method, payout.status, payout.external_reference or "", payout.status_reason or "",
                    payout.processed_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if payout.processed_at else "",
                ])

