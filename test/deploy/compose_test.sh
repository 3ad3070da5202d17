#!/usr/bin/env bash
# The docker-compose stack for real: config accepted, `up -d --build` gives berthd + nginx, /health and an SSE
# run answer through nginx (streamed, not buffered), berthd (non-root, in a container) starts workers on the
# host's engine, a claude run goes through berthd's credential gateway (the fake Messages API runs inside
# berthd's network namespace, so the traffic stays on this machine), an online backup holds the run, and
# the history survives `down` + `up -d`.
# Own project name and a loopback port; everything it created is removed at the end.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"

fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
ok() { printf 'ok: %s\n' "$*" >&2; }

work=$(mktemp -d /tmp/berth-compose.XXXXXX)
export COMPOSE_PROJECT_NAME=berthtest$RANDOM
export BERTH_ENV_FILE=$work/env
export BERTH_GATEWAY_VOLUME=$COMPOSE_PROJECT_NAME-gateway
fake_port=$((20000 + RANDOM % 20000))
fake_key=sk-ant-compose-REAL-$RANDOM$RANDOM
user=deploy-test-$RANDOM
port=$((20000 + RANDOM % 20000))
while ss -Hltn "sport = :$port" | grep -q .; do port=$((20000 + RANDOM % 20000)); done
key=deploy-test-key-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
cat > "$BERTH_ENV_FILE" <<ENV
BERTH_API_KEYS=$key
BERTH_ENGINES=echo,script,claude
BERTH_DEFAULT_ENGINE=echo
ANTHROPIC_API_KEY=$fake_key
ANTHROPIC_BASE_URL=http://127.0.0.1:$fake_port
BERTH_ORPHAN_GRACE_S=3600
BERTH_HTTP_PORT=$port
BERTH_HTTP_BIND=127.0.0.1
ENV
fake_pid=
cleanup() {
  [ -z "$fake_pid" ] || kill "$fake_pid" 2>/dev/null || true
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
health_ok() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/health")" = 200 ]; }

compose config -q || fail "docker-compose config refused the file"
ok "docker-compose config accepts the file"

t0=$SECONDS
compose up -d --build >"$work/up.log" 2>&1 || { tail -30 "$work/up.log" >&2; fail "docker-compose up -d --build"; }
wait_for 90 health_ok || { compose logs --tail=50 >&2; fail "/health did not answer through nginx"; }
ok "stack up and /health answers through nginx on 127.0.0.1:$port ($((SECONDS - t0)) s including the build)"

cid=$(compose ps -q berthd)
uid=$(docker exec "$cid" id -u)
[ "$uid" != 0 ] || fail "berthd runs as root"
ok "berthd runs as uid $uid"
[ "$(docker inspect -f '{{.State.Health.Status}}' "$cid" 2>/dev/null)" != unhealthy ] || fail "berthd container unhealthy"

# An SSE run through nginx: each line is stamped with its arrival time (ns).
api -N "$base/api/v1/runs" -H 'Content-Type: application/json' -H 'Accept: text/event-stream' \
  -d "{\"user\":\"$user\",\"message\":\"one two three four five six\",\"options\":{\"delay_ms\":300}}" |
  while IFS= read -r line; do printf '%s %s\n' "$(date +%s%N)" "$line"; done > "$work/sse.txt"
first_text=$(awk '$2 == "event:" && $3 == "text" {print $1; exit}' "$work/sse.txt")
done_at=$(awk '$2 == "event:" && $3 == "done" {print $1; exit}' "$work/sse.txt")
[ -n "$first_text" ] && [ -n "$done_at" ] || { cat "$work/sse.txt" >&2; fail "no text or no done event through nginx"; }
gap_ms=$(( (done_at - first_text) / 1000000 ))
[ "$gap_ms" -ge 1000 ] || { cat "$work/sse.txt" >&2; fail "first text only ${gap_ms} ms before done: nginx buffers"; }
ok "SSE through nginx streams: first text ${gap_ms} ms before done"
grep -q '"status":"succeeded"' "$work/sse.txt" || fail "the run did not succeed"
id=$(grep -o '"run":"[0-9A-Z]*"' "$work/sse.txt" | head -1 | cut -d'"' -f4)
inst=$(curl -s "$base/health" | grep -o '"instance":"[^"]*"' | cut -d'"' -f4)
# Workers and spares carry berth.user; the namespace holders berthd keeps ready do not.
[ -z "$(docker ps -aq --filter "label=berth.instance=$inst" --filter label=berth.user)" ] || fail "worker containers left behind"
ok "run $id succeeded in a worker on the host engine (instance $inst), no container left"

# A claude run through the gateway: the fake Messages API listens on 127.0.0.1 inside berthd's own network
# namespace (nsenter), where berthd's ANTHROPIC_BASE_URL points; the worker has no network at all.
pid=$(docker inspect -f '{{.State.Pid}}' "$cid")
FAKE_ANTHROPIC_API_KEY=$fake_key setsid nsenter -t "$pid" -n node "$BERTH_ROOT/test/fake_anthropic/server.js" "$fake_port" \
  </dev/null >"$work/fake.out" 2>"$work/fake.err" &
fake_pid=$!
wait_for 10 grep -q listening "$work/fake.out" || { cat "$work/fake.err" >&2; fail "the fake Messages API did not start"; }
claude_run=$(api "$base/api/v1/runs" -H 'Content-Type: application/json' \
  -d "{\"user\":\"$user\",\"engine\":\"claude\",\"message\":\"@@text:5\"}" | grep -o '"id":"[0-9A-Z]*"' | cut -d'"' -f4)
[ -n "$claude_run" ] || fail "the claude run was not accepted"
wait_for 120 sh -c "curl -s -H 'X-API-Key: $key' $base/api/v1/runs/$claude_run | grep -q '\"finished_at\":\"'" ||
  fail "the claude run did not finish"
run_json=$(api "$base/api/v1/runs/$claude_run")
echo "$run_json" | grep -q '"status":"succeeded"' || { echo "$run_json" >&2; compose logs --tail=30 berthd >&2; fail "the claude run did not succeed"; }
echo "$run_json" | grep -q '"output_tokens":5' || { echo "$run_json" >&2; fail "the run's usage was not metered"; }
requests=$(nsenter -t "$pid" -n curl -s "http://127.0.0.1:$fake_port/_requests")
echo "$requests" | grep -q '"key_matched":true' || fail "the fake never saw the real key"
! echo "$requests" | grep -q '"key_matched":false' || fail "a request reached the fake without the real key"
kill "$fake_pid"; fake_pid=
ok "claude run $claude_run went through berthd's gateway (real key added there, usage metered)"

"$BERTH_ROOT/scripts/backup" "$work/backup.db" >/dev/null 2>&1 || fail "scripts/backup"
[ "$(sqlite3 "$work/backup.db" "select status from runs where id='$id'")" = succeeded ] || fail "backup lacks the run"
ok "online backup holds the run"

compose down >/dev/null 2>&1
compose up -d >/dev/null 2>&1
wait_for 60 health_ok || fail "/health after down + up"
api "$base/api/v1/runs?user=$user" | grep -q "\"$id\"" || fail "history lost across down + up"
ok "history survives docker-compose down + up -d"
