#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL cluster, then delete the cluster.
#
#   scripts/with-throwaway-postgres.sh COMMAND [ARGS...]
#
# Creates a cluster in a fresh temp dir, starts it on a free port of 127.0.0.1, exports
#   DATABASE_URL=postgres://clicknback@127.0.0.1:<port>/clicknback
# (role "clicknback" is a SUPERUSER, so pytest-django can create test_clicknback), runs COMMAND,
# then stops the server and removes the temp dir — also on failure or Ctrl-C.
# Exits with COMMAND's exit code; 2 when PostgreSQL cannot be found or started.
#
# Environment: PG_BINDIR=/path/to/bin to choose the PostgreSQL binaries; PG_EXTRA_CONF, lines
# appended to postgresql.conf (e.g. "shared_preload_libraries = 'pg_stat_statements'" for `make bench`).
# As root, the server runs as the "postgres" OS user (initdb and pg_ctl refuse to run as root).
set -euo pipefail

readonly SUPERUSER=clicknback
readonly DBNAME=clicknback
readonly SERVER_OS_USER=postgres

say() { printf 'with-throwaway-postgres: %s\n' "$*" >&2; }

if [[ $# -eq 0 ]]; then
    say "usage: $0 COMMAND [ARGS...]"
    exit 2
fi

# --- find the server binaries --------------------------------------------------------------
has_server_bins() { [[ -n "$1" && -x "$1/initdb" && -x "$1/pg_ctl" ]]; }

find_bindir() {
    local dir
    if [[ -n "${PG_BINDIR:-}" ]]; then
        has_server_bins "$PG_BINDIR" && { echo "$PG_BINDIR"; return 0; }
        say "PG_BINDIR=$PG_BINDIR has no initdb/pg_ctl"
        return 1
    fi
    if command -v pg_config >/dev/null 2>&1; then
        dir="$(pg_config --bindir 2>/dev/null || true)"
        has_server_bins "$dir" && { echo "$dir"; return 0; }
    fi
    # Debian/Ubuntu keep the server off PATH; Homebrew's postgresql@N is keg-only.
    # Highest version first: "<version>\t<dir>", sorted by version.
    for dir in $(ls -d /usr/lib/postgresql/*/bin /opt/homebrew/opt/postgresql@*/bin \
                       /usr/local/opt/postgresql@*/bin /usr/pgsql-*/bin 2>/dev/null \
                 | sed -E 's#^.*[/@-]([0-9]+(\.[0-9]+)?)/bin$#\1	&#' \
                 | sort -t "$(printf '\t')" -k1,1 -V -r | cut -f2-); do
        has_server_bins "$dir" && { echo "$dir"; return 0; }
    done
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dir="$(dirname "$(command -v initdb)")"
        has_server_bins "$dir" && { echo "$dir"; return 0; }
    fi
    return 1
}

if ! BINDIR="$(find_bindir)"; then
    cat >&2 <<'MSG'
with-throwaway-postgres: PostgreSQL server binaries (initdb, pg_ctl) not found.
The test suite runs on PostgreSQL. Either install the server:
    Debian/Ubuntu:  sudo apt-get install postgresql
    macOS:          brew install postgresql@16
(or point PG_BINDIR at a directory containing initdb and pg_ctl),
or run against an existing server you own, e.g.:
    DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/clicknback make test
(the role needs CREATEDB: pytest-django creates and drops test_clicknback).
MSG
    exit 2
fi
PG_ISREADY="$BINDIR/pg_isready"
[[ -x "$PG_ISREADY" ]] || PG_ISREADY="$(command -v pg_isready || true)"

# --- who runs the server -----------------------------------------------------------------
AS_ROOT=0
if [[ "$(id -u)" -eq 0 ]]; then
    AS_ROOT=1
    if ! id "$SERVER_OS_USER" >/dev/null 2>&1; then
        say "running as root, but there is no '$SERVER_OS_USER' OS user to run the server as"
        say "(initdb/pg_ctl refuse to run as root). Create it (useradd -r $SERVER_OS_USER) or run as a normal user."
        exit 2
    fi
fi

# Run a PostgreSQL binary as the server's owner.
as_server_user() {
    if [[ $AS_ROOT -eq 1 ]]; then
        if command -v runuser >/dev/null 2>&1; then
            runuser -u "$SERVER_OS_USER" -- "$@"
        else
            su "$SERVER_OS_USER" -s /bin/sh -c "$(printf '%q ' "$@")"
        fi
    else
        "$@"
    fi
}

# --- a free port ---------------------------------------------------------------------------
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT_PYTHON=""
for candidate in "$REPO_ROOT/.venv/bin/python" python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import socket' >/dev/null 2>&1; then
        PORT_PYTHON="$candidate"
        break
    fi
done
free_port() {
    if [[ -n "$PORT_PYTHON" ]]; then
        "$PORT_PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
    else
        echo $(( 20000 + RANDOM % 30000 ))   # no python at all: a random high port
    fi
}

# --- create, start, always clean up --------------------------------------------------------
# A short path under /tmp: the unix socket path must stay under ~100 bytes (macOS $TMPDIR is long).
TMP_ROOT="$(mktemp -d /tmp/clicknback-pg.XXXXXX)"
DATA_DIR="$TMP_ROOT/data"
LOG_FILE="$TMP_ROOT/server.log"
ORIG_PWD="$PWD"

cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    set +e
    if [[ -f "$DATA_DIR/postmaster.pid" ]]; then
        # -m fast disconnects sessions still open (e.g. a test thread that hung).
        if ! as_server_user "$BINDIR/pg_ctl" -D "$DATA_DIR" -m fast -t 30 -w stop >/dev/null 2>&1; then
            as_server_user "$BINDIR/pg_ctl" -D "$DATA_DIR" -m immediate -t 10 -w stop >/dev/null 2>&1
        fi
        if [[ -f "$DATA_DIR/postmaster.pid" ]]; then
            local pid
            pid="$(head -n 1 "$DATA_DIR/postmaster.pid" 2>/dev/null)"
            [[ "$pid" =~ ^[0-9]+$ ]] && kill -9 "$pid" 2>/dev/null
            sleep 0.5
        fi
    fi
    rm -rf "$TMP_ROOT"
    exit "$rc"
}
CHILD=""
# Ctrl-C reaches the command too (same process group): let it finish its own teardown first.
# TERM/HUP sent to this script alone are passed on to the command.
on_signal() {
    local sig=$1 code=$2
    if [[ -n "$CHILD" ]]; then
        [[ "$sig" != INT ]] && kill -s "$sig" "$CHILD" 2>/dev/null
        wait "$CHILD" 2>/dev/null
    fi
    exit "$code"
}
trap cleanup EXIT
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM
trap 'on_signal HUP 129' HUP

if [[ $AS_ROOT -eq 1 ]]; then
    chown "$SERVER_OS_USER" "$TMP_ROOT"
    chmod 700 "$TMP_ROOT"
fi
# The server's owner may not be allowed into the caller's cwd (e.g. /root).
cd "$TMP_ROOT"

# A UTF-8 ctype, so lower()/upper() fold non-ASCII letters: case-insensitive merchant names
# ("Café" = "CAFÉ", R-203) depend on it, as they do in production.
LOCALE=C
for candidate in C.UTF-8 C.utf8 en_US.UTF-8 en_US.utf8; do
    if locale -a 2>/dev/null | grep -qx "$candidate"; then LOCALE="$candidate"; break; fi
done
[[ "$LOCALE" != C ]] || say "warning: no UTF-8 locale found (locale -a); non-ASCII case folding will be wrong"

say "initdb ($BINDIR) in $DATA_DIR, locale $LOCALE"
if ! as_server_user "$BINDIR/initdb" -D "$DATA_DIR" -A trust -U "$SUPERUSER" \
        -E UTF8 --locale="$LOCALE" --no-sync >"$TMP_ROOT/initdb.log" 2>&1; then
    say "initdb failed:"
    cat "$TMP_ROOT/initdb.log" >&2
    exit 2
fi

# Throwaway data: durability off for speed; many connections for the threaded concurrency tests.
as_server_user sh -c "cat >> '$DATA_DIR/postgresql.conf'" <<CONF

# --- with-throwaway-postgres.sh ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$TMP_ROOT'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
${PG_EXTRA_CONF:-}
CONF

PORT=""
STARTED=0
for attempt in 1 2 3; do
    PORT="$(free_port)"
    if as_server_user "$BINDIR/pg_ctl" -D "$DATA_DIR" -l "$LOG_FILE" -o "-p $PORT" -t 60 -w start >/dev/null 2>&1; then
        STARTED=1
        break
    fi
    # pg_ctl may give up while the postmaster is still around: make sure it is gone before retrying.
    if [[ -f "$DATA_DIR/postmaster.pid" ]]; then
        as_server_user "$BINDIR/pg_ctl" -D "$DATA_DIR" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    say "server did not start on port $PORT (attempt $attempt)"
done
if [[ $STARTED -ne 1 ]]; then
    say "could not start PostgreSQL; server log:"
    tail -n 30 "$LOG_FILE" >&2 2>/dev/null || true
    exit 2
fi

if [[ -n "$PG_ISREADY" ]]; then
    for _ in $(seq 1 50); do
        "$PG_ISREADY" -q -h 127.0.0.1 -p "$PORT" -U "$SUPERUSER" -d postgres && break
        sleep 0.2
    done
    "$PG_ISREADY" -q -h 127.0.0.1 -p "$PORT" -U "$SUPERUSER" -d postgres \
        || { say "server not ready on port $PORT"; tail -n 30 "$LOG_FILE" >&2; exit 2; }
fi

if ! "$BINDIR/createdb" -h 127.0.0.1 -p "$PORT" -U "$SUPERUSER" "$DBNAME" 2>"$TMP_ROOT/createdb.log"; then
    say "createdb failed:"
    cat "$TMP_ROOT/createdb.log" >&2
    exit 2
fi

export DATABASE_URL="postgres://$SUPERUSER@127.0.0.1:$PORT/$DBNAME"
say "PostgreSQL $("$BINDIR/pg_ctl" --version | awk '{print $3}') ready: DATABASE_URL=$DATABASE_URL"

# Back in the caller's directory for the command itself.
cd "$ORIG_PWD"
# Run in the background so a TERM to this script is handled at once, not after the command ends;
# restore default signal handling (async commands start with INT ignored) and keep stdin.
( trap - INT TERM HUP; exec "$@" ) 0<&0 &
CHILD=$!
set +e
wait "$CHILD"
rc=$?
set -e
CHILD=""
say "command exited with $rc; removing the cluster"
exit "$rc"
