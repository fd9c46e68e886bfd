"""Prometheus metrics (issue 10): what the code records, and the scrape-time figures read from the database.

Recorded by the process where it happens (prometheus-client values):
  clicknback_http_requests_total{method,route,status}            every request, by route template
  clicknback_http_request_duration_seconds{method,route,status}  its latency (histogram)
  clicknback_purchases_ingested_total{source}                    purchases created (committed)
  clicknback_cashback_ingested_total{source}                     their cashback amount, EUR
  clicknback_job_passes_total{job}, clicknback_job_items_handled_total{job},
  clicknback_job_items_failed_total{job}, clicknback_job_last_pass_timestamp_seconds{job}
  clicknback_reconcile_last_run_timestamp_seconds{scope}, clicknback_reconcile_last_wallets_checked{scope},
  clicknback_reconcile_last_mismatches{scope}                   the last `reconcile_wallets` (scope all|one_user)
Read from the database at every scrape:
  clicknback_payouts{status}                                    payouts by status (one GROUP BY)

Several processes (gunicorn workers, job loops, a one-shot `reconcile_wallets`) add up through
prometheus-client's multiprocess mode: each writes its values to files in PROMETHEUS_MULTIPROC_DIR and
/metrics sums the directory. gunicorn.conf.py creates that directory when it is not given. Job and
reconcile figures reach /metrics only from processes that write into the same directory (same host, or
a volume shared with the web containers, as docker-compose.yml does).
"""

import logging
import os
import time
from decimal import Decimal

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import generate_latest, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from clicknback.metrics_files import MULTIPROC_DIR_ENV, process_identifier

logger = logging.getLogger("clicknback.metrics")

# Must be set before the first metric is created: every metric below keeps its values through it.
if os.environ.get(MULTIPROC_DIR_ENV):
    values.ValueClass = values.MultiProcessValue(process_identifier)

# --- HTTP -------------------------------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "clicknback_http_requests", "HTTP requests answered, by route template, method and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "clicknback_http_request_duration_seconds", "Time to answer an HTTP request, by route template and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

# --- purchases --------------------------------------------------------------------------------------
PURCHASES_INGESTED = Counter("clicknback_purchases_ingested", "Purchases ingested (committed), by source.",
                             ["source"])
CASHBACK_INGESTED = Counter("clicknback_cashback_ingested", "Cashback of ingested purchases in EUR, by source.",
                            ["source"])

# --- jobs -------------------------------------------------------------------------------------------
JOB_PASSES = Counter("clicknback_job_passes", "Passes of a batch job.", ["job"])
JOB_ITEMS_HANDLED = Counter("clicknback_job_items_handled", "Items a batch job claimed and handled.", ["job"])
JOB_ITEMS_FAILED = Counter("clicknback_job_items_failed", "Items a batch job failed to handle (errors).", ["job"])
JOB_LAST_PASS = Gauge("clicknback_job_last_pass_timestamp_seconds", "Unix time the job's last pass ended.",
                      ["job"], multiprocess_mode="max")

# --- reconciliation ---------------------------------------------------------------------------------
# Labelled by scope ("all" wallets, or "one_user" for --user), so a one-wallet check never stands for the
# whole ledger; and, like every metric here, created on first use: a process that never reconciles (a
# health check, a shell) leaves no file in the multiprocess directory.
RECONCILE_LAST_RUN = Gauge("clicknback_reconcile_last_run_timestamp_seconds",
                           "Unix time the last wallet reconciliation finished.", ["scope"], multiprocess_mode="max")
RECONCILE_LAST_CHECKED = Gauge("clicknback_reconcile_last_wallets_checked",
                               "Wallets the last reconciliation checked.", ["scope"], multiprocess_mode="mostrecent")
RECONCILE_LAST_MISMATCHES = Gauge("clicknback_reconcile_last_mismatches",
                                  "Mismatches the last reconciliation found (0 = every balance equals its ledger).",
                                  ["scope"], multiprocess_mode="mostrecent")


def request_finished(*, method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_LATENCY.labels(method, route, str(status)).observe(seconds)


def purchase_ingested(*, source: str, cashback: Decimal) -> None:
    """Counts one ingested purchase once its transaction commits (at once outside a transaction)."""
    from django.db import transaction

    def record():
        PURCHASES_INGESTED.labels(str(source)).inc()
        CASHBACK_INGESTED.labels(str(source)).inc(float(cashback))

    transaction.on_commit(record)


def job_pass(*, job: str, handled: int, failed: int) -> None:
    """One pass of a batch job ended: `handled` items claimed, `failed` of them (or the claim) in error."""
    JOB_PASSES.labels(job).inc()
    JOB_ITEMS_HANDLED.labels(job).inc(handled)
    JOB_ITEMS_FAILED.labels(job).inc(failed)
    JOB_LAST_PASS.labels(job).set(time.time())


def reconcile_finished(*, checked: int, mismatches: int, scope: str = "all") -> None:
    RECONCILE_LAST_RUN.labels(scope).set(time.time())
    RECONCILE_LAST_CHECKED.labels(scope).set(checked)
    RECONCILE_LAST_MISMATCHES.labels(scope).set(mismatches)


class DatabaseFiguresCollector:
    """Figures read at scrape time: one GROUP BY, so every worker (and host) reports the same truth."""

    def collect(self):
        from django.db import DatabaseError
        from django.db.models import Count

        from payouts.models import Payout, PayoutStatus

        try:
            counts = dict(Payout.objects.order_by().values_list("status").annotate(n=Count("id")))
        except DatabaseError:
            # The process's own figures are still worth a scrape; these reappear with the database.
            logger.warning("Metrics: payouts by status left out, the database did not answer", exc_info=True)
            return
        payouts = GaugeMetricFamily("clicknback_payouts", "Payouts by status, now.", labels=["status"])
        for status in PayoutStatus.values:
            payouts.add_metric([status], counts.get(status, 0))
        yield payouts


def render() -> tuple[bytes, str]:
    """(body, content type) of one scrape: every process's values plus the database figures."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROC_DIR_ENV):
        MultiProcessCollector(registry)
    else:  # one process (runserver, tests): its own values
        for collector in _RECORDED:
            registry.register(collector)
    registry.register(DatabaseFiguresCollector())
    return generate_latest(registry), CONTENT_TYPE_LATEST


_RECORDED = (HTTP_REQUESTS, HTTP_LATENCY, PURCHASES_INGESTED, CASHBACK_INGESTED, JOB_PASSES, JOB_ITEMS_HANDLED,
             JOB_ITEMS_FAILED, JOB_LAST_PASS, RECONCILE_LAST_RUN, RECONCILE_LAST_CHECKED, RECONCILE_LAST_MISMATCHES)
