#!/bin/sh
# First start: a cluster with role and database `berth` (password from BERTH_POSTGRES_PASSWORD, never on a
# command line: initdb reads it from a file that is removed at once), reachable over the compose network with
# scram-sha-256. Every start: postgres in the foreground.
set -eu
: "${BERTH_POSTGRES_PASSWORD:?set BERTH_POSTGRES_PASSWORD}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pw=$(mktemp)
  printf '%s' "$BERTH_POSTGRES_PASSWORD" > "$pw"
  initdb -D "$PGDATA" -U berth --pwfile="$pw" --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pw"
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  createdb -U berth berth
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec postgres -D "$PGDATA" -c listen_addresses='*'
