"""A large, consistent data set for measuring how reads behave as data grows (issue 7).

`build_scale_data(purchases=10**6)` writes, with a handful of INSERT … SELECT generate_series
statements on PostgreSQL:
- `users` accounts with their wallets; the first is the "heavy" user with `heavy_user_purchases`
  purchases spread over the whole year, the others share the rest evenly;
- `merchants` merchants, each with one live percent offer;
- the purchases, spread over the past year, in every state (60 % confirmed, 30 % pending,
  7 % rejected, 3 % reversed after confirmation), each with its cashback transaction and the
  ledger entries the services would have written (earned; confirmed: pending −c, available +c;
  rejected: pending −c; reversed: available −c), with `balance_after` chains that hold;
- wallet balances equal to their ledger sums, so `reconcile_wallets` finds nothing.

No audit rows and no payouts are written: the figures it serves are list reads. Every account
gets the same password (returned in the summary), hashed once. PostgreSQL only.
"""

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction

from accounts.models import User
from merchants.models import Merchant
from offers.models import Offer
from purchases.models import Purchase
from wallets.models import CashbackTransaction, LedgerEntry, Wallet

SCALE_DOMAIN = "scale.clicknback.test"
HEAVY_USER_EMAIL = f"heavy@{SCALE_DOMAIN}"
CASHBACK_PERCENT = "5.00"


@dataclass(frozen=True)
class ScaleSummary:
    users: int
    merchants: int
    purchases: int
    ledger_entries: int
    heavy_user_email: str
    password: str

    def describe(self) -> str:
        return (f"Scale data ready: {self.users} users, {self.merchants} merchants, {self.purchases} purchases, "
                f"{self.ledger_entries} ledger entries. Heavy user {self.heavy_user_email}, every scale "
                f"account's password: {self.password}")


class ScaleDataExists(Exception):
    pass


def _noop(message: str) -> None:
    pass


def build_scale_data(*, purchases: int, users: int = 1000, heavy_user_purchases: int = 1025, merchants: int = 50,
                     password: str | None = None, progress: Callable[[str], None] | None = None) -> ScaleSummary:
    """Write the data set in one transaction; refuses (ScaleDataExists) when it was built before.
    `progress(message)` is called before each step."""
    if connection.vendor != "postgresql":
        raise NotImplementedError("The scale data set is built with PostgreSQL SQL.")
    if purchases < 1 or users < 2 or merchants < 1 or heavy_user_purchases < 0:
        raise ValueError("purchases ≥ 1, users ≥ 2, merchants ≥ 1 and heavy_user_purchases ≥ 0 are needed.")
    report = progress or _noop
    heavy = min(heavy_user_purchases, purchases)
    password = password or secrets.token_urlsafe(12) + "aA1!"
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    params = {
        "users": users, "merchants": merchants, "purchases": purchases, "heavy": heavy, "now": now,
        "password": make_password(password), "domain": SCALE_DOMAIN, "heavy_email": HEAVY_USER_EMAIL,
        "percent": CASHBACK_PERCENT, "today": now.date(), "stride": max(1, purchases // heavy) if heavy else 1,
    }
    tables = {
        "user": User._meta.db_table, "wallet": Wallet._meta.db_table, "merchant": Merchant._meta.db_table,
        "offer": Offer._meta.db_table, "purchase": Purchase._meta.db_table,
        "cashback": CashbackTransaction._meta.db_table, "ledger": LedgerEntry._meta.db_table,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {tables['user']} WHERE lower(email) = %(heavy_email)s", params)
        if cursor.fetchone():
            raise ScaleDataExists(f"{HEAVY_USER_EMAIL} exists: the scale data set was built in this database.")
        cursor.execute("SET LOCAL work_mem = '256MB'")
        for message, statement in _steps(tables):
            report(message)
            cursor.execute(statement, params)
        cursor.execute(f"SELECT count(*) FROM {tables['ledger']} e JOIN scale_users u ON u.id = e.wallet_id")
        ledger_entries = cursor.fetchone()[0]
    report("Analysing the tables")
    _analyse(tables, vacuum=not connection.in_atomic_block)
    return ScaleSummary(users=users, merchants=merchants, purchases=purchases, ledger_entries=ledger_entries,
                        heavy_user_email=HEAVY_USER_EMAIL, password=password)


def _analyse(tables: dict, *, vacuum: bool) -> None:
    """Fresh statistics for the planner; outside a transaction also VACUUM, which sets the
    visibility map that index-only scans (the exact list counts) rely on."""
    with connection.cursor() as cursor:
        for table in tables.values():
            cursor.execute(f"{'VACUUM (ANALYZE)' if vacuum else 'ANALYZE'} {table}")


def _steps(t: dict) -> list[tuple[str, str]]:
    # Purchase number g (1…purchases): every `stride`-th (up to `heavy` of them) belongs to user 0,
    # the others go round the other users in turn. Times grow with g, from a year ago to three days
    # ago, so confirmation (+1 day) and reversal (+2 days) lie in the past too. Merchant, amount and
    # fate come from independent hashes of g, so every merchant and user sees every status.
    return [
        ("Creating users and wallets", f"""
            CREATE TEMP TABLE scale_users ON COMMIT DROP AS
            SELECT n, gen_random_uuid() AS id,
                   CASE WHEN n = 0 THEN %(heavy_email)s ELSE format('user-%%s@%%s', lpad(n::text, 5, '0'), %(domain)s) END AS email
            FROM generate_series(0, %(users)s - 1) AS n;
            CREATE UNIQUE INDEX ON scale_users (n);
            INSERT INTO {t['user']} (id, password, email, role, is_active, created_at, updated_at)
            SELECT id, %(password)s, email, 'user', true, %(now)s - interval '400 days', %(now)s - interval '400 days'
            FROM scale_users ORDER BY n;
            INSERT INTO {t['wallet']} (user_id, pending_balance, available_balance, paid_balance, clawback_balance, updated_at)
            SELECT id, 0, 0, 0, 0, %(now)s FROM scale_users ORDER BY n;
        """),
        ("Creating merchants and their offers", f"""
            CREATE TEMP TABLE scale_merchants ON COMMIT DROP AS
            SELECT n, gen_random_uuid() AS id, gen_random_uuid() AS offer_id
            FROM generate_series(0, %(merchants)s - 1) AS n;
            CREATE UNIQUE INDEX ON scale_merchants (n);
            INSERT INTO {t['merchant']} (id, name, default_cashback_percentage, active, webhook_secret, created_at, updated_at)
            SELECT id, format('Scale Merchant %%s', lpad(n::text, 4, '0')), %(percent)s, true,
                   'whsec_' || md5(random()::text), %(now)s - interval '400 days', %(now)s - interval '400 days'
            FROM scale_merchants ORDER BY n;
            INSERT INTO {t['offer']} (id, merchant_id, cashback_type, cashback_value, start_date, end_date,
                                      monthly_cap_per_user, active, created_at, updated_at)
            SELECT offer_id, id, 'percent', %(percent)s, %(today)s - 400, %(today)s + 365, 100000.00, true,
                   %(now)s - interval '400 days', %(now)s - interval '400 days'
            FROM scale_merchants ORDER BY n;
        """),
        ("Inserting purchases", f"""
            INSERT INTO {t['purchase']} (id, external_id, user_id, merchant_id, offer_id, amount, currency,
                cashback_amount, status, source, purchased_at, status_reason, verification_attempts,
                confirmed_at, rejected_at, reversed_at, created_at, updated_at)
            SELECT gen_random_uuid(), 'scale-' || g, u.id, m.id, m.offer_id, p.amount, 'EUR',
                   CASE WHEN p.status IN ('rejected', 'reversed') THEN 0 ELSE round(p.amount * %(percent)s / 100, 2) END,
                   p.status, 'api', p.at, CASE p.status WHEN 'rejected' THEN 'Scale: no matching bank movement'
                                                     WHEN 'reversed' THEN 'Scale: order returned' END,
                   0,
                   CASE WHEN p.status IN ('confirmed', 'reversed') THEN p.at + interval '1 day' END,
                   CASE WHEN p.status = 'rejected' THEN p.at + interval '1 day' END,
                   CASE WHEN p.status = 'reversed' THEN p.at + interval '2 days' END,
                   p.at, p.at
            FROM generate_series(1::bigint, %(purchases)s) AS g
            CROSS JOIN LATERAL (SELECT
                CASE WHEN g %% %(stride)s = 0 AND g / %(stride)s <= %(heavy)s THEN 0
                     ELSE 1 + (g - least(g / %(stride)s, %(heavy)s) - 1) %% (%(users)s - 1) END AS user_no,
                (hashint8(g)::bigint + 2147483648) %% %(merchants)s AS merchant_no,
                (10 + (hashint8(g + 1)::bigint + 2147483648) %% 49000 / 100.0)::numeric(12, 2) AS amount,
                (hashint8(g + 2)::bigint + 2147483648) %% 100 AS fate,
                %(now)s - interval '365 days' + (g::float8 / %(purchases)s) * interval '362 days' AS at
            ) AS r
            CROSS JOIN LATERAL (SELECT r.user_no, r.merchant_no, r.amount, r.at,
                CASE WHEN r.fate < 60 THEN 'confirmed' WHEN r.fate < 90 THEN 'pending'
                     WHEN r.fate < 97 THEN 'rejected' ELSE 'reversed' END AS status
            ) AS p
            JOIN scale_users u ON u.n = p.user_no
            JOIN scale_merchants m ON m.n = p.merchant_no
            ORDER BY g;
        """),
        ("Inserting cashback transactions", f"""
            INSERT INTO {t['cashback']} (id, user_id, purchase_id, amount, status, created_at, updated_at)
            SELECT gen_random_uuid(), p.user_id, p.id, round(p.amount * %(percent)s / 100, 2),
                   CASE p.status WHEN 'pending' THEN 'pending' WHEN 'confirmed' THEN 'available' ELSE 'reversed' END,
                   p.created_at, coalesce(p.reversed_at, p.rejected_at, p.confirmed_at, p.created_at)
            FROM {t['purchase']} p JOIN scale_merchants m ON m.id = p.merchant_id
            ORDER BY p.created_at;
        """),
        # Every purchase's events in time order; per purchase pending +c always precedes pending −c
        # and available +c precedes available −c, so each running balance stays ≥ 0.
        ("Inserting ledger entries", f"""
            WITH events AS (
                SELECT p.id AS purchase_id, p.user_id AS wallet_id, e.seq, e.at, e.balance, e.amount, e.reason,
                       e.actor_type, e.actor_id
                FROM {t['purchase']} p JOIN scale_merchants m ON m.id = p.merchant_id
                CROSS JOIN LATERAL (SELECT round(p.amount * %(percent)s / 100, 2) AS c) AS c
                CROSS JOIN LATERAL (VALUES
                    (1, p.created_at, 'pending', c.c, 'cashback_earned', 'user', p.user_id, true),
                    (2, p.confirmed_at, 'pending', -c.c, 'cashback_confirmed', 'system', NULL::uuid,
                        p.status IN ('confirmed', 'reversed')),
                    (3, p.confirmed_at, 'available', c.c, 'cashback_confirmed', 'system', NULL::uuid,
                        p.status IN ('confirmed', 'reversed')),
                    (2, p.rejected_at, 'pending', -c.c, 'cashback_rejected', 'system', NULL::uuid,
                        p.status = 'rejected'),
                    (4, p.reversed_at, 'available', -c.c, 'cashback_reversed', 'system', NULL::uuid,
                        p.status = 'reversed')
                ) AS e(seq, at, balance, amount, reason, actor_type, actor_id, happened)
                WHERE e.happened
            ), numbered AS (
                SELECT *, (SELECT coalesce(max(id), 0) FROM {t['ledger']})
                          + row_number() OVER (ORDER BY at, purchase_id, seq) AS id
                FROM events
            )
            INSERT INTO {t['ledger']} (id, wallet_id, operation_id, balance, amount, balance_after, reason,
                                      purchase_id, actor_type, actor_id, created_at)
            SELECT id, wallet_id, md5(purchase_id::text || CASE WHEN seq = 3 THEN 2 ELSE seq END)::uuid, balance,
                   amount, sum(amount) OVER (PARTITION BY wallet_id, balance ORDER BY id), reason, purchase_id,
                   actor_type, actor_id, at
            FROM numbered ORDER BY id;
            SELECT setval(pg_get_serial_sequence('{t['ledger']}', 'id'),
                          (SELECT max(id) FROM {t['ledger']}));
        """),
        ("Setting wallet balances from the ledger", f"""
            UPDATE {t['wallet']} w
            SET pending_balance = s.pending, available_balance = s.available, updated_at = %(now)s
            FROM (
                SELECT e.wallet_id,
                       coalesce(sum(e.amount) FILTER (WHERE e.balance = 'pending'), 0) AS pending,
                       coalesce(sum(e.amount) FILTER (WHERE e.balance = 'available'), 0) AS available
                FROM {t['ledger']} e JOIN scale_users u ON u.id = e.wallet_id
                GROUP BY e.wallet_id
            ) s
            WHERE w.user_id = s.wallet_id;
        """),
    ]
