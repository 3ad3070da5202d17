#!/bin/sh
# A real two-node Docker Swarm on this machine for the tests tagged [swarm] (issue 14; the recipe in
# ../shared/RECIPES.md, verified here): each node is a dockerd in a network namespace of its own, joined by a
# bridge this script makes. `start DIR` makes bridge brberth (10.199.77.1/24), a FORWARD ACCEPT rule for it (the
# host's policy drops bridged traffic), namespaces berthsw1 and berthsw2 with veth pairs, starts a dockerd in
# each (nsenter --net, not `ip netns exec`, which remounts /sys and breaks dockerd; unshare --uts for a hostname
# of its own), makes node 1 the manager and joins node 2, and loads the worker image into both (no registry).
# It writes DIR/manager.sock's path to DIR/env. `stop DIR` removes all of it, whatever state it is in.
# ctest runs these as the setup and cleanup of the `swarm` fixture, pass or fail.
set -eu
cmd=${1:?start|stop}
dir=${2:?DIR}
image=${BERTH_WORKER_IMAGE:-berth-worker:latest}
nodes="1 2"
bridge=brberth
net=10.199.77

stop() {
  for n in $nodes; do
    pid=$(cat "$dir/n$n/pid" 2>/dev/null || true)
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    kill -KILL "$pid" 2>/dev/null || true
  done
  # Containers a killed dockerd left running, and their mounts under DIR.
  for n in $nodes; do
    for pid in $(cat "$dir/n$n/exec/containerd/containerd.pid" 2>/dev/null || true); do kill -KILL "$pid" 2>/dev/null || true; done
  done
  grep " $dir/" /proc/mounts 2>/dev/null | awk '{print $2}' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  for n in $nodes; do ip netns del "berthsw$n" 2>/dev/null || true; done
  ip link del "$bridge" 2>/dev/null || true
  while iptables -D FORWARD -i "$bridge" -o "$bridge" -j ACCEPT 2>/dev/null; do :; done
  rm -rf "$dir"
}

wait_for() {  # SECONDS COMMAND...
  limit=$1; shift
  i=0
  until "$@" >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -lt $((limit * 10)) ] || return 1
    sleep 0.1
  done
}

start() {
  if ip link show "$bridge" >/dev/null 2>&1 || ip netns list | grep -q '^berthsw'; then
    echo "swarm fixture: $bridge or a berthsw namespace exists already (a run that was not cleaned up?)" >&2
    exit 1
  fi
  mkdir -p "$dir"
  ip link add "$bridge" type bridge
  ip addr add "$net.1/24" dev "$bridge"
  ip link set "$bridge" up
  iptables -I FORWARD -i "$bridge" -o "$bridge" -j ACCEPT
  for n in $nodes; do
    mkdir -p "$dir/n$n"
    ip netns add "berthsw$n"
    ip link add "vberth$n" type veth peer name "vberth${n}p"
    ip link set "vberth$n" master "$bridge" up
    ip link set "vberth${n}p" netns "berthsw$n"
    nsenter --net="/var/run/netns/berthsw$n" sh -c "ip addr add $net.1$n/24 dev vberth${n}p && ip link set vberth${n}p up && ip link set lo up"
    setsid nsenter --net="/var/run/netns/berthsw$n" unshare --uts sh -c "hostname berth-node$n; exec dockerd \
      --data-root $dir/n$n/data --exec-root $dir/n$n/exec --pidfile $dir/n$n/pid -H unix://$dir/n$n/docker.sock \
      --bridge=none --iptables=false --ip-masq=false" >"$dir/n$n/log" 2>&1 </dev/null &
  done
  for n in $nodes; do
    wait_for 60 docker -H "unix://$dir/n$n/docker.sock" version || { echo "swarm fixture: dockerd $n did not start" >&2; cat "$dir/n$n/log" >&2; exit 1; }
  done
  m="unix://$dir/n1/docker.sock"
  # A 1 s heartbeat: a node whose link the tests take down is reported down within seconds, not ~15 s.
  docker -H "$m" swarm init --advertise-addr "$net.11" --dispatcher-heartbeat 1s >/dev/null
  token=$(docker -H "$m" swarm join-token -q worker)
  for n in $nodes; do
    [ "$n" = 1 ] && continue
    docker -H "unix://$dir/n$n/docker.sock" swarm join --token "$token" "$net.11:2377" >/dev/null
  done
  docker save "$image" -o "$dir/worker.tar"
  for n in $nodes; do docker -H "unix://$dir/n$n/docker.sock" load -q -i "$dir/worker.tar" >/dev/null; done
  rm -f "$dir/worker.tar"
  ready() { [ "$(docker -H "$m" node ls --format '{{.Status}}' | grep -c Ready)" = "$(echo $nodes | wc -w)" ]; }
  wait_for 60 ready || { echo "swarm fixture: nodes not ready" >&2; docker -H "$m" node ls >&2; exit 1; }
  echo "BERTH_TEST_SWARM_MANAGER=$dir/n1/docker.sock" >"$dir/env"
}

case $cmd in
  start) start || { status=$?; stop; exit $status; } ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
