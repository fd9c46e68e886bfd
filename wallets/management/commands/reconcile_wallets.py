"""R-182…R-185: prove every balance equals its ledger; exit 1 listing every mismatch."""

import sys

from django.core.management.base import BaseCommand
from django.db import DatabaseError

from clicknback import metrics
from clicknback.fields import parse_uuid
from clicknback.progress import Progress
from wallets.reconciliation import reconcile


class Command(BaseCommand):
    help = "Check every wallet (or one with --user) against its ledger and cashback records (C1…C6)."

    def add_arguments(self, parser):
        parser.add_argument("--user", help="Check only this user's wallet (uuid).")

    def handle(self, *args, user=None, **options):
        user_id = None
        if user is not None:
            user_id = parse_uuid(user)
            if user_id is None:
                self.stderr.write(f"--user must be a UUID, got {user!r}.")
                sys.exit(2)
        # One snapshot, one call: the terminal sees what runs and for how long, never a log or a pipe.
        progress = Progress("reconcile_wallets", unit="wallets", stream=self.stderr)
        progress.set_phase("checking balances against the ledger")
        try:
            checked, mismatches = reconcile(user_id=user_id)
        except DatabaseError as exc:
            progress.close()
            self.stderr.write(f"Cannot run the check: {exc}")
            sys.exit(2)
        progress.close()
        metrics.reconcile_finished(checked=checked, mismatches=len(mismatches),
                                   scope="all" if user_id is None else "one_user")
        for mismatch in mismatches:
            self.stdout.write(str(mismatch))
        self.stdout.write(f"Checked {checked} wallets, {len(mismatches)} mismatches.")
        if mismatches:
            sys.exit(1)
