#!/bin/sh
# S3 for the tests: OpenStack Swift (Debian's packages) with its s3api middleware, which verifies every request's
# signature, and tempauth's user test:tester / testing. `start DIR PORT` makes one-device rings and server
# configs in DIR, starts memcached and the account, container, object and proxy servers on loopback ports
# PORT..PORT+4 (the proxy, which speaks S3, on PORT) and waits for /healthcheck; `stop DIR` kills them by their
# pid files and removes DIR. ctest runs these as the setup and cleanup of the `s3` fixture, pass or fail.
# Swift reads /etc/swift/swift.conf whatever swift_dir says; the swift package installs one.
set -eu
cmd=${1:?start|stop}
dir=${2:?DIR}
stop() {
  # Each server was started with setsid: its pid is its process group's, which holds the workers it forked.
  pids=$(cat "$dir"/*.pid 2>/dev/null || true)
  for pid in $pids; do kill -TERM "-$pid" 2>/dev/null || true; done
  i=0
  for pid in $pids; do
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
    kill -KILL "-$pid" 2>/dev/null || true
  done
  rm -rf "$dir"
}
server_conf() {  # NAME PORT
  cat >"$dir/$1-server.conf" <<EOF
[DEFAULT]
devices = $dir/srv/node
mount_check = false
bind_ip = 127.0.0.1
bind_port = $2
user = root
swift_dir = $dir
workers = 1
log_name = $1-server
log_facility = LOG_LOCAL0
log_level = WARNING
[pipeline:main]
pipeline = $1-server
[app:$1-server]
use = egg:swift#$1
EOF
}
case "$cmd" in
  start)
    port=${3:?PORT}
    stop
    [ -f /etc/swift/swift.conf ] || { echo "s3_fixture: /etc/swift/swift.conf missing (apt-get install swift)" >&2; exit 1; }
    mkdir -p "$dir/srv/node/d1"
    mc=$((port + 1)) acct=$((port + 2)) cont=$((port + 3)) obj=$((port + 4))
    # Swift's servers bind with SO_REUSEPORT: a leftover server on these ports would share them silently.
    for p in $port $mc $acct $cont $obj; do
      if curl -s --noproxy '*' -o /dev/null "http://127.0.0.1:$p/" 2>/dev/null || [ $? -ne 7 ]; then
        echo "s3_fixture: something already listens on 127.0.0.1:$p" >&2; exit 1
      fi
    done
    for t in account:$acct container:$cont object:$obj; do
      n=${t%:*} p=${t#*:}
      (cd "$dir" && swift-ring-builder "$n.builder" create 0 1 1 && swift-ring-builder "$n.builder" add "r1z1-127.0.0.1:$p/d1" 1 &&
        swift-ring-builder "$n.builder" rebalance) >>"$dir/rings.log" 2>&1 || { cat "$dir/rings.log" >&2; exit 1; }
      server_conf "$n" "$p"
    done
    cat >"$dir/proxy-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $port
user = root
swift_dir = $dir
workers = 1
log_level = WARNING
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
[filter:s3api]
use = egg:swift#s3api
[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$mc
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
EOF
    # Started with their output in DIR; each keeps its pid file there for stop.
    setsid memcached -u root -l 127.0.0.1 -p "$mc" -U 0 </dev/null >"$dir/memcached.log" 2>&1 &
    echo $! >"$dir/memcached.pid"
    for n in account container object proxy; do
      setsid "swift-$n-server" "$dir/$n-server.conf" </dev/null >"$dir/$n.log" 2>&1 &
      echo $! >"$dir/$n.pid"
    done
    # Ready when the proxy's /healthcheck says OK and each storage server answers HTTP at all (the proxy is
    # up before them: a first request would otherwise get 500 "unexpected status code 404").
    i=0
    until [ "$(curl -s --noproxy '*' "http://127.0.0.1:$port/healthcheck" 2>/dev/null)" = OK ] &&
          for p in $acct $cont $obj; do
            [ "$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p/" 2>/dev/null)" != 000 ] || exit 1
          done; do
      i=$((i + 1))
      if [ $i -gt 300 ]; then tail -20 "$dir"/*.log >&2; stop; exit 1; fi
      sleep 0.1
    done
    echo "http://127.0.0.1:$port"
    ;;
  stop) stop ;;
  *) echo "usage: s3_fixture.sh start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
