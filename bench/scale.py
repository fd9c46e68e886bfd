#!/usr/bin/env python3
"""Single-request latency of the list reads on a large data set (issue 7, "flat as data grows").

Runs in-process through Django's test client against DATABASE_URL (PostgreSQL), one request at a
time: for each request, `--warmup` untimed tries, then `--tries` timed ones; prints p50, p90 and
min in ms and the SQL statements of one try, as a Markdown table.

    DATABASE_URL=postgres://clicknback@127.0.0.1:55471/scale .venv/bin/python manage.py seed_demo --scale 1000000
    DATABASE_URL=postgres://clicknback@127.0.0.1:55471/scale .venv/bin/python bench/scale.py --tries 30
    … --explain          also print EXPLAIN (ANALYZE, BUFFERS) of every statement of the API lists
    … --json out.json    the figures as JSON

The user requests are made as the heavy user of the scale data set (clicknback/core/scale_data.py),
the admin requests as the first active admin (the demo admin of `seed_demo`). Only reads are sent
unless --ingestion is given (then purchases of the heavy user are added). Nothing is sent over the
network, so the figures are Django + PostgreSQL time without HTTP parsing or a WSGI server.
"""

import argparse
import itertools
import json
import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django() -> None:
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.exit("error: set DATABASE_URL to the PostgreSQL database that holds the scale data set")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clicknback.settings")
    os.environ["DEBUG"] = "false"  # DEBUG keeps every query in memory: not what production does
    os.environ["THROTTLING_ENABLED"] = "false"
    for name in ("SECRET_KEY", "JWT_SIGNING_KEY"):
        os.environ.setdefault(name, secrets.token_urlsafe(48))
    import warnings

    import django

    warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collectstatic needed here
    django.setup()


def requests_to_time(*, deep_offset: int) -> list[tuple[str, str, str]]:
    """(label, who, path): who is "user" (heavy user's token), "admin" (admin token) or "office"
    (admin session for the back-office)."""
    from accounts.models import User
    from clicknback.core.scale_data import HEAVY_USER_EMAIL
    from merchants.models import Merchant

    heavy = User.objects.get(email=HEAVY_USER_EMAIL)
    merchant = Merchant.objects.filter(name__startswith="Scale Merchant").order_by("name").first()
    return [
        ("own purchases, `limit=20`", "user", "/api/v1/users/me/purchases?limit=20"),
        ("own wallet transactions", "user", "/api/v1/users/me/wallet/transactions"),
        ("admin `GET /purchases?limit=20`", "admin", "/api/v1/purchases?limit=20"),
        ("admin `GET /purchases?merchant_id=…`", "admin", f"/api/v1/purchases?merchant_id={merchant.pk}"),
        (f"admin `GET /purchases?offset={deep_offset}`", "admin", f"/api/v1/purchases?offset={deep_offset}"),
        ("admin `GET /purchases?status=pending`", "admin", "/api/v1/purchases?status=pending"),
        ("admin `GET /purchases?user_id=…` (heavy user)", "admin", f"/api/v1/purchases?user_id={heavy.pk}"),
        ("admin `GET /purchases?merchant_id=…&status=confirmed`", "admin",
         f"/api/v1/purchases?merchant_id={merchant.pk}&status=confirmed"),
        ("back-office purchase change list", "office", "/admin/purchases/purchase/"),
        ("back-office ledger change list", "office", "/admin/wallets/ledgerentry/"),
        ("back-office cashback change list", "office", "/admin/wallets/cashbacktransaction/"),
    ]


def clients():
    from django.test import Client

    from accounts.models import Role, User
    from accounts.tokens import AccessToken
    from clicknback.core.scale_data import HEAVY_USER_EMAIL

    heavy = User.objects.get(email=HEAVY_USER_EMAIL)
    admin = User.objects.filter(role=Role.ADMIN, is_active=True).order_by("created_at").first()
    if admin is None:
        sys.exit("error: no active admin (run seed_demo first)")
    office = Client()
    office.force_login(admin)
    return {
        "user": Client(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_account(heavy)}"),
        "admin": Client(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_account(admin)}"),
        "office": office,
    }


def ingestion(client) -> tuple[str, Callable]:
    """POST /api/v1/purchases as the heavy user, a new external id each time (writes a purchase)."""
    from accounts.models import User
    from clicknback.core.scale_data import HEAVY_USER_EMAIL
    from merchants.models import Merchant

    heavy = User.objects.get(email=HEAVY_USER_EMAIL)
    merchant = Merchant.objects.filter(name__startswith="Scale Merchant").order_by("name").first()
    run = secrets.token_hex(4)
    numbers = itertools.count()

    def send():
        return client.post("/api/v1/purchases", {
            "external_id": f"bench-scale-{run}-{next(numbers)}", "user_id": str(heavy.pk),
            "merchant_id": str(merchant.pk), "amount": "25.00", "currency": "EUR",
        }, content_type="application/json")

    return "/api/v1/purchases", send


def measure(send, path: str, *, warmup: int, tries: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(warmup):
        response = send()
        if response.status_code not in (200, 201):
            raise SystemExit(f"error: {path} answered {response.status_code}: {response.content[:300]!r}")
    timings = []
    for _ in range(tries):
        started = time.perf_counter()
        send()
        timings.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        send()
    timings.sort()
    return {
        "p50_ms": round(statistics.median(timings), 1),
        "p90_ms": round(timings[min(len(timings) - 1, int(len(timings) * 0.9))], 1),
        "min_ms": round(timings[0], 1),
        "statements": len(queries.captured_queries),
        "sql": [q["sql"] for q in queries.captured_queries],
    }


def explain(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tries", type=int, default=30, help="timed requests per row (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests first (default 3)")
    parser.add_argument("--deep-offset", type=int, default=500000, help="offset of the deep-page row (500000)")
    parser.add_argument("--only", help="time only the rows whose label contains this text")
    parser.add_argument("--explain", action="store_true", help="print the plans of the API lists' statements")
    parser.add_argument("--ingestion", action="store_true",
                        help="also time POST /api/v1/purchases as the heavy user (adds warm-up + tries + 1 purchases)")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    if not 1 <= args.tries <= 1000 or not 0 <= args.warmup <= 100:
        parser.error("--tries is 1…1000, --warmup 0…100")
    setup_django()

    from purchases.models import Purchase

    purchases = Purchase.objects.count()
    by_who = clients()
    rows = []
    print(f"{purchases} purchases; {args.tries} tries per row after {args.warmup} warm-up tries", file=sys.stderr)
    print("| Request | p50 ms | p90 ms | min ms | SQL statements |")
    print("| --- | ---: | ---: | ---: | ---: |")
    rows_to_time = [(label, path, lambda c=by_who[who], p=path: c.get(p))
                    for label, who, path in requests_to_time(deep_offset=args.deep_offset)]
    if args.ingestion:
        rows_to_time.append(("ingestion `POST /purchases` (writes)", *ingestion(by_who["user"])))
    for label, path, send in rows_to_time:
        if args.only and args.only not in label:
            continue
        figures = measure(send, path, warmup=args.warmup, tries=args.tries)
        rows.append({"request": label, "path": path, **figures})
        print(f"| {label} | {figures['p50_ms']} | {figures['p90_ms']} | {figures['min_ms']} | {figures['statements']} |",
              flush=True)
    if args.explain:
        for row in rows:
            if not row["path"].startswith("/api/") or "POST" in row["request"]:
                continue
            print(f"\n### {row['request']}")
            for sql in row["sql"]:
                if sql.lstrip().upper().startswith("SELECT") and "purchases_purchase" in sql:
                    print(f"\n```\n{sql}\n\n{explain(sql)}\n```")
    if args.json:
        Path(args.json).write_text(json.dumps({"purchases": purchases, "tries": args.tries, "rows": [
            {k: v for k, v in row.items() if k != "sql"} for row in rows]}, indent=2))


if __name__ == "__main__":
    main()
