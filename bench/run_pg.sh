#!/usr/bin/env bash
# One benchmark run on PostgreSQL: migrate, seed, start gunicorn on a loopback port, run
# bench/load.py against it, stop the server (also on Ctrl-C or failure).
#
#   DATABASE_URL=postgres://clicknback@127.0.0.1:55432/clicknback_bench \
#   GUNICORN_WORKERS=2 GUNICORN_THREADS=4 DB_CONN_MAX_AGE=60 \
#   bench/run_pg.sh [--gunicorn-arg ARG]... [--label NAME] [--] [load.py arguments]
#
# Server settings come from the environment as for `make run` (GUNICORN_*, DB_POOL, DB_POOL_*,
# DB_CONN_MAX_AGE); --gunicorn-arg passes a flag to the gunicorn command line, where it overrides
# gunicorn.conf.py (e.g. --gunicorn-arg=--worker-class=sync). DEBUG=false and
# THROTTLING_ENABLED=false are forced; SECRET_KEY/JWT_SIGNING_KEY are generated when unset.
# BENCH_PORT (default: a free port), BENCH_MERCHANTS (merchants to have, default 50),
# BENCH_SERVER_LOG (default bench/results/server.log, git-ignored). The demo logins reach load.py
# as BENCH_ADMIN_EMAIL/_PASSWORD and BENCH_USER_EMAIL/_PASSWORD.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${VENV:-.venv}/bin/python"
GUNICORN="${VENV:-.venv}/bin/gunicorn"

gunicorn_args=()
label=""
while [ $# -gt 0 ]; do
    case "$1" in
        --gunicorn-arg) gunicorn_args+=("$2"); shift 2 ;;
        --gunicorn-arg=*) gunicorn_args+=("${1#*=}"); shift ;;
        --label) label="$2"; shift 2 ;;
        --label=*) label="${1#*=}"; shift ;;
        --) shift; break ;;
        *) break ;;
    esac
done

case "${DATABASE_URL:-}" in
    postgres://*|postgresql://*) ;;
    *) echo "error: set DATABASE_URL to a PostgreSQL database (postgres://user@host:port/db)" >&2; exit 2 ;;
esac

export DEBUG=false THROTTLING_ENABLED=false DJANGO_SETTINGS_MODULE=clicknback.settings
gen='import secrets; print(secrets.token_urlsafe(48))'
export SECRET_KEY="${SECRET_KEY:-$("$PY" -c "$gen")}"
export JWT_SIGNING_KEY="${JWT_SIGNING_KEY:-$("$PY" -c "$gen")}"
port="${BENCH_PORT:-$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
log="${BENCH_SERVER_LOG:-bench/results/server.log}"
mkdir -p "$(dirname "$log")"
base="http://127.0.0.1:$port"

"$PY" manage.py migrate --noinput --verbosity 0
seed_out="$("$PY" manage.py seed_demo)"
admin_password="$(awk '$1 == "admin" {print $3}' <<<"$seed_out")"
user_password="$(awk '$1 == "user" {print $3}' <<<"$seed_out")"
admin_email="$(awk '$1 == "admin" {print $2}' <<<"$seed_out")"
user_email="$(awk '$1 == "user" {print $2}' <<<"$seed_out")"
BENCH_MERCHANTS="${BENCH_MERCHANTS:-50}" "$PY" manage.py shell -c '
import os
from decimal import Decimal
from clicknback.audit.services import Actor
from merchants.models import Merchant
from merchants.services import create_merchant
want = int(os.environ["BENCH_MERCHANTS"])
n = 0
while Merchant.objects.count() < want:
    n += 1
    name = f"Bench Merchant {n:03d}"
    if not Merchant.objects.filter(name__iexact=name).exists():
        create_merchant(name=name, default_cashback_percentage=Decimal("5.00"), actor=Actor.system())
print(f"{Merchant.objects.count()} merchants")
'

"$GUNICORN" -c gunicorn.conf.py --bind "127.0.0.1:$port" "${gunicorn_args[@]}" >"$log" 2>&1 &
server_pid=$!
stop_server() {
    if kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
    wait "$server_pid" 2>/dev/null || true
}
trap stop_server EXIT INT TERM

for _ in $(seq 1 150); do
    kill -0 "$server_pid" 2>/dev/null || { echo "error: gunicorn exited; see $log" >&2; tail -20 "$log" >&2; exit 1; }
    if "$PY" -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('$base/health/ready', timeout=2).status != 200)" 2>/dev/null; then
        break
    fi
    sleep 0.2
done
echo "server: gunicorn ${gunicorn_args[*]:-} on $base (workers=${GUNICORN_WORKERS:-default} threads=${GUNICORN_THREADS:-default}" \
     "DB_POOL=${DB_POOL:-false} DB_CONN_MAX_AGE=${DB_CONN_MAX_AGE:-60}); log in $log" >&2

# The write scenarios (ingest, webhook) use a merchant of their own whose offer leaves the monthly
# cap (R-83) far away: 1 % of 10.00 against a 10,000.00 cap is 100,000 purchases. With a demo offer
# the cap is reached after a few hundred, and every later purchase skips its ledger entry and wallet
# update (R-118: zero cashback moves nothing), which is not the path to measure.
# The webhook signs as that merchant; its secret is read as operators do (R-34).
webhook_merchant="$("$PY" manage.py shell --no-imports -c '
import datetime as dt
from decimal import Decimal
from clicknback.audit.services import Actor
from merchants.models import Merchant
from merchants.services import create_merchant
from offers import selectors
from offers.services import create_offer
today = dt.datetime.now(dt.UTC).date()
merchant = Merchant.objects.filter(name="Bench Uncapped").first() or create_merchant(
    name="Bench Uncapped", default_cashback_percentage=Decimal("1.00"), actor=Actor.system())
if selectors.live_offer_for_merchant(merchant.pk, on=today) is None:
    create_offer(merchant_id=merchant.pk, cashback_type="percent", cashback_value=Decimal("1.00"),
                 start_date=today, end_date=today + dt.timedelta(days=365),
                 monthly_cap=Decimal("10000.00"), actor=Actor.system())
print(merchant.pk)
' | tail -n 1)"
webhook_secret=""
if [ -n "$webhook_merchant" ]; then
    webhook_secret="$("$PY" manage.py merchant_webhook_secret "$webhook_merchant")"
fi

# Logins and the secret through the environment: kept out of `ps`, and a password may start with "-".
BENCH_DATABASE_URL="${BENCH_DATABASE_URL:-$DATABASE_URL}" \
BENCH_ADMIN_EMAIL="$admin_email" BENCH_ADMIN_PASSWORD="$admin_password" \
BENCH_USER_EMAIL="$user_email" BENCH_USER_PASSWORD="$user_password" \
BENCH_MERCHANT_ID="$webhook_merchant" BENCH_WEBHOOK_MERCHANT_ID="$webhook_merchant" BENCH_WEBHOOK_SECRET="$webhook_secret" \
    "$PY" bench/load.py --base-url "$base" --label "$label" --server-pid "$server_pid" "$@"
