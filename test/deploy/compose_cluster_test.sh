#!/usr/bin/env bash
# The multi-instance compose variant for real (docker-compose.yml + docker-compose.postgres.yml): PostgreSQL 15
# built from the local base image, two berthd, nginx balancing them. A run streams through nginx; the berthd
# that follows it is killed mid-run; the stream resumes through nginx (Last-Event-ID) on the other, which
# adopts the run after the lease, and the run completes with every event exactly once.
# Own project name and a loopback port; everything it created is removed at the end.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"

fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
ok() { printf 'ok: %s\n' "$*" >&2; }

work=$(mktemp -d /tmp/berth-compose-pg.XXXXXX)
export COMPOSE_PROJECT_NAME=berthpg$RANDOM
export BERTH_ENV_FILE=$work/env
export BERTH_COMPOSE_EXTRA=docker-compose.postgres.yml
export BERTH_GATEWAY_VOLUME=$COMPOSE_PROJECT_NAME-gateway
user=cluster-test-$RANDOM
port=$((20000 + RANDOM % 20000))
while ss -Hltn "sport = :$port" | grep -q .; do port=$((20000 + RANDOM % 20000)); done
key=cluster-test-key-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
cat > "$BERTH_ENV_FILE" <<ENV
BERTH_API_KEYS=$key
BERTH_ENGINES=echo
BERTH_DEFAULT_ENGINE=echo
BERTH_POSTGRES_PASSWORD=pg-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
BERTH_LEASE_S=5
BERTH_ORPHAN_GRACE_S=3600
BERTH_HTTP_PORT=$port
BERTH_HTTP_BIND=127.0.0.1
ENV
cleanup() {
  compose down -v --remove-orphans >/dev/null 2>&1 || true
  docker volume ls -q --filter "label=berth.user=$user" | xargs -r docker volume rm -f >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

base=http://127.0.0.1:$port
api() { curl -sS -H "X-API-Key: $key" "$@"; }
wait_for() {  # wait_for SECONDS CMD...: polls CMD until it succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do [ $SECONDS -lt $deadline ] || return 1; sleep 0.25; done
}
ready_both() {
  for s in berthd berthd2; do
    [ "$(docker inspect -f '{{.State.Health.Status}}' "$(compose ps -q $s)")" = healthy ] || return 1
  done
}

compose config -q || fail "docker-compose config refused the two files"
t0=$SECONDS
compose up -d --build >"$work/up.log" 2>&1 || { tail -30 "$work/up.log" >&2; fail "docker-compose up -d --build"; }
wait_for 180 ready_both || { compose logs --tail=40 >&2; fail "the two berthd did not become healthy"; }
ok "postgres + two berthd + nginx up ($((SECONDS - t0)) s including the build)"

# Runs are claimed on either instance; both answer for any of them.
id=$(api "$base/api/v1/runs" -H 'Content-Type: application/json' \
  -d "{\"user\":\"$user\",\"message\":\"$(seq -s ' ' 1 40 | sed 's/[0-9]*/w&/g')\",\"options\":{\"delay_ms\":250}}" |
  grep -o '"id":"[0-9A-Z]*"' | cut -d'"' -f4)
[ -n "$id" ] || fail "the run was not accepted"

# The first part of the stream through nginx, cut after five text events.
api -N "$base/api/v1/runs/$id/events" > "$work/first.txt" &
reader=$!
wait_for 60 sh -c "[ \$(grep -c '^event: text' '$work/first.txt') -ge 5 ]" || fail "no text through nginx"
kill "$reader" 2>/dev/null || true
wait "$reader" 2>/dev/null || true
frames() { awk '/^id: /{id=$2} /^event: /{ev=$2} /^data: /{print id "\t" ev "\t" substr($0, 7)}' "$1"; }  # complete frames
frames "$work/first.txt" > "$work/first.frames"
last=$(tail -1 "$work/first.frames" | cut -f1)

node=$(api "$base/api/v1/runs/$id" | grep -o '"node":"[^"]*"' | cut -d'"' -f4)
[ -n "$node" ] || fail "the run names no node"
victim=
for s in berthd berthd2; do
  c=$(compose ps -q $s)
  case "$node" in "${c:0:12}"-*) victim=$c; victim_name=$s ;; esac
done
[ -n "$victim" ] || fail "node $node is none of the two berthd containers"
docker kill "$victim" >/dev/null
ok "killed $victim_name (node $node) while run $id streamed (last event seen: $last)"

# The rest through nginx, from where the cut left it: the surviving instance serves it, adopts the run after
# the lease and follows it to its end.
timeout 120 curl -sS -N -H "X-API-Key: $key" -H "Last-Event-ID: $last" "$base/api/v1/runs/$id/events" > "$work/rest.txt" ||
  { compose logs --tail=40 berthd berthd2 >&2; fail "the resumed stream did not end"; }
grep -q '"status":"succeeded"' "$work/rest.txt" || { cat "$work/rest.txt" >&2; compose logs --tail=40 berthd berthd2 >&2; fail "the run did not succeed after the kill"; }
frames "$work/rest.txt" > "$work/rest.frames"
ids=$(cat "$work/first.frames" "$work/rest.frames" | cut -f1 | tr '\n' ' ')
expected=$(seq -s ' ' 1 "$(tail -1 "$work/rest.frames" | cut -f1)")
[ "$ids" = "$expected " ] || fail "event ids not gap-free and once each: $ids"
words=$(cat "$work/first.frames" "$work/rest.frames" | awk -F'\t' '$2 == "text" {print $3}' | grep -o '"text":"[^"]*"' |
  cut -d'"' -f4 | tr -d '\n')
[ "$words" = "$(seq -s ' ' 1 40 | sed 's/[0-9]*/w&/g')" ] || fail "the text is not whole: $words"
ok "the stream resumed through nginx on the other instance: run succeeded, events 1..${expected##* } once each"

inst=$(curl -s "$base/health" | grep -o '"instance":"[^"]*"' | cut -d'"' -f4)
wait_for 30 sh -c "[ -z \"\$(docker ps -aq --filter label=berth.instance=$inst --filter label=berth.run)\" ]" ||
  fail "worker containers left behind"
ok "no worker container left"
