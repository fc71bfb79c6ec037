#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the feedback store tests and print its URL.
# Idempotent: installs Debian's postgresql if missing, initialises a cluster under $TUNESMITH_PG_DIR once,
# starts it on $TUNESMITH_PG_PORT unless it already runs, creates the database. `ensure_postgres.sh stop`
# stops it again. A throwaway test server: fsync is off.
set -euo pipefail

PG_DIR="${TUNESMITH_PG_DIR:-/tmp/tunesmith-pg}"
PG_PORT="${TUNESMITH_PG_PORT:-54329}"
PG_DB="${TUNESMITH_PG_DB:-tunesmith_test}"

find_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

BIN="$(find_bin)"
if [ -z "$BIN" ] || [ ! -x "$BIN/pg_ctl" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "PostgreSQL is not installed and this is not root: apt-get install -y postgresql" >&2
    exit 1
  fi
  echo "installing PostgreSQL (Debian package postgresql)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  BIN="$(find_bin)"
fi

# The server refuses to run as root: run it as the postgres user the Debian package creates.
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir "$PG_DIR" postgres
  AS_PG=(runuser -u postgres --)
else
  AS_PG=()
fi

if [ "${1:-}" = "stop" ]; then
  if [ -f "$PG_DIR/data/postmaster.pid" ]; then
    "${AS_PG[@]}" "$BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >&2
  fi
  exit 0
fi

if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
  mkdir -p "$PG_DIR"
  [ "$(id -u)" = 0 ] && chown postgres "$PG_DIR"
  "${AS_PG[@]}" "$BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust --no-sync -E UTF8 >/dev/null
fi

if ! "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
  "${AS_PG[@]}" "$BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" start >&2
fi

if ! "$BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$PG_DB'" \
    | grep -q 1; then
  "$BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$PG_DB"
fi

echo "postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/$PG_DB"
