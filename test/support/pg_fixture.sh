#!/bin/sh
# A PostgreSQL 15 server for the tests: `start DIR PORT` makes a fresh cluster in DIR (owned by the postgres
# user, trust auth for role berth, loopback only) and starts it; `stop DIR` stops it and removes DIR. ctest runs
# these as the setup and cleanup of the `postgres` fixture, so the server goes away even when tests fail.
set -eu
cmd=${1:?start|stop}
dir=${2:?DIR}
bin=/usr/lib/postgresql/15/bin
as_postgres() { su postgres -s /bin/sh -c "$1"; }
stop() {
  if [ -f "$dir/pg/postmaster.pid" ]; then
    as_postgres "$bin/pg_ctl -D '$dir/pg' -m immediate -w stop" >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}
case "$cmd" in
  start)
    port=${3:?PORT}
    stop
    mkdir -p "$dir"
    chown postgres "$dir"
    as_postgres "$bin/initdb -D '$dir/pg' -A trust -U berth" >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    as_postgres "$bin/pg_ctl -D '$dir/pg' -o \"-k '$dir' -h 127.0.0.1 -p $port -c max_connections=300 -c fsync=off\" -l '$dir/pg.log' -w start" >/dev/null \
      || { cat "$dir/pg.log" >&2; exit 1; }
    as_postgres "$bin/createdb -h 127.0.0.1 -p $port -U berth berth"
    echo "postgresql://berth@127.0.0.1:$port/berth"
    ;;
  stop) stop ;;
  *) echo "usage: pg_fixture.sh start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
