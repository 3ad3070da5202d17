# Shared by scripts/*: idempotent steps for a fresh Debian 12 machine (as root) and for CI.
# shellcheck shell=bash
set -euo pipefail

BERTH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BERTH_BUILD=${BERTH_BUILD:-$BERTH_ROOT/build}
BERTH_STATE=${BERTH_STATE:-$BERTH_ROOT/build/state}
BASE_IMAGE=debian:bookworm-slim
WORKER_IMAGE=${BERTH_WORKER_IMAGE:-berth-worker:latest}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

BUILD_PACKAGES=(build-essential cmake pkg-config libboost1.81-dev libcpp-httplib-dev libsqlitecpp-dev libsqlite3-dev
  nlohmann-json3-dev libfmt-dev catch2 libssl-dev libpq-dev libhowardhinnant-date-dev zlib1g-dev libcurl4-openssl-dev tzdata)
RUN_PACKAGES=(docker.io docker-compose debootstrap ca-certificates curl sqlite3 procps iproute2 iptables openssl util-linux)

ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "missing packages (${missing[*]}); run as root to install them"
  say "installing ${missing[*]}"
  if [ ! -f "$BERTH_STATE/apt-updated" ] || [ -n "$(find "$BERTH_STATE/apt-updated" -mmin +720 2>/dev/null)" ]; then
    apt-get update -qq
    mkdir -p "$BERTH_STATE" && touch "$BERTH_STATE/apt-updated"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

docker_answers() { docker version >/dev/null 2>&1; }

# Starts dockerd when the socket does not answer; BERTH_STARTED_DOCKERD holds its PID then.
ensure_dockerd() {
  docker_answers && return 0
  mkdir -p "$BERTH_STATE"
  say "starting dockerd (log: $BERTH_STATE/dockerd.log)"
  setsid dockerd </dev/null >"$BERTH_STATE/dockerd.log" 2>&1 &
  BERTH_STARTED_DOCKERD=$!
  for _ in $(seq 1 120); do
    docker_answers && return 0
    kill -0 "$BERTH_STARTED_DOCKERD" 2>/dev/null || { tail -20 "$BERTH_STATE/dockerd.log" >&2; die "dockerd exited"; }
    sleep 0.5
  done
  die "dockerd did not answer within 60 s (see $BERTH_STATE/dockerd.log)"
}

# Only the dockerd this very process started (ensure_dockerd sets BERTH_STARTED_DOCKERD), never another.
stop_dockerd_if_started() {
  local pid=${BERTH_STARTED_DOCKERD:-}
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  say "stopping the dockerd this run started (pid $pid)"
  kill "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true
}

# No registry is reachable: the base image every berth image builds FROM is made here with debootstrap.
ensure_base_image() {
  docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 && return 0
  say "making $BASE_IMAGE locally (debootstrap --variant=minbase, ~1 min)"
  local dir
  dir=$(mktemp -d /tmp/berth-rootfs.XXXXXX)
  debootstrap --variant=minbase bookworm "$dir" http://deb.debian.org/debian >"$dir.log" 2>&1 \
    || { tail -20 "$dir.log" >&2; die "debootstrap failed"; }
  rm -rf "$dir/var/cache/apt/archives/"*.deb "$dir/var/lib/apt/lists/"*
  tar -C "$dir" -c . | docker import -c 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$dir" "$dir.log"
}

build_project() {
  say "building berth into $BERTH_BUILD"
  cmake -S "$BERTH_ROOT" -B "$BERTH_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo ${BERTH_CMAKE_ARGS:-} >/dev/null
  cmake --build "$BERTH_BUILD" -j2
}

# A TLS-intercepting proxy in front of the npm registry (as on our build machines) needs its CA inside the
# image's build stage; the certificates found here are passed along (build stage only, never in the image).
extra_ca_certs() { cat /usr/local/share/ca-certificates/*.crt 2>/dev/null || true; }

build_images() {
  say "building $WORKER_IMAGE (first build ~3 min: compiles berth-worker, fetches the Claude Code CLI from npm)"
  DOCKER_BUILDKIT=0 docker build -q -f "$BERTH_ROOT/worker/Dockerfile" -t "$WORKER_IMAGE" \
    --build-arg EXTRA_CA_CERTS="$(extra_ca_certs)" "$BERTH_ROOT" >/dev/null
}

# Tests need node (the fake Anthropic API, the browser test); Debian's nodejs serves when none is installed.
ensure_node() {
  command -v node >/dev/null 2>&1 || ensure_packages nodejs
  command -v npm >/dev/null 2>&1 || ensure_packages npm
}

# The dashboard's browser test: Debian's chromium, and playwright-core (pinned in test/browser's lock file)
# installed from npm into the build tree.
ensure_browser() {
  ensure_packages chromium
  local dir="$BERTH_BUILD/browser"
  if ! cmp -s "$BERTH_ROOT/test/browser/package-lock.json" "$dir/package-lock.json" || [ ! -d "$dir/node_modules" ]; then
    say "installing playwright-core into $dir"
    mkdir -p "$dir"
    cp "$BERTH_ROOT/test/browser/package.json" "$BERTH_ROOT/test/browser/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
}

# --- docker-compose deployment (scripts/deploy, stop, logs, backup, upgrade; test/deploy) ---
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-berth}
# BERTH_ENV_FILE: the stack's configuration (default ./.env), read by compose and passed to berthd.
export BERTH_ENV_FILE=${BERTH_ENV_FILE:-$BERTH_ROOT/.env}
# BERTH_COMPOSE_EXTRA: a file layered on top, e.g. docker-compose.postgres.yml (two berthd on PostgreSQL).
compose() {
  local files=(-f "$BERTH_ROOT/docker-compose.yml")
  [ -z "${BERTH_COMPOSE_EXTRA:-}" ] || files+=(-f "$BERTH_ROOT/$BERTH_COMPOSE_EXTRA")
  DOCKER_GID=$(stat -c %g /var/run/docker.sock) EXTRA_CA_CERTS="$(extra_ca_certs)" DOCKER_BUILDKIT=0 \
    COMPOSE_DOCKER_CLI_BUILD=0 docker-compose --project-directory "$BERTH_ROOT" "${files[@]}" \
    --env-file "$BERTH_ENV_FILE" "$@"
}

ensure_compose_ready() {
  ensure_packages docker.io docker-compose debootstrap ca-certificates curl
  ensure_dockerd
  ensure_base_image
  [ -f "$BERTH_ENV_FILE" ] || die "no $BERTH_ENV_FILE: cp deploy/.env.example .env and set BERTH_API_KEYS (and ANTHROPIC_API_KEY)"
}

setup_all() {
  ensure_packages "${BUILD_PACKAGES[@]}" "${RUN_PACKAGES[@]}"
  ensure_dockerd
  ensure_base_image
  build_project
  build_images
}
