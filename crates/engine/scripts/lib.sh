# Shared by the namespace scripts next to this file (sourced, not run).
#
# A star topology: one bridge namespace "$PREFIX-br" and nodes "$PREFIX$i" (i = 1..N), node i
# at "$SUBNET.$i/24" on its eth0. Addresses exist only inside the namespaces.

# ns_names PREFIX N: every namespace name of the topology.
ns_names() { local i; echo -n "$1-br"; for i in $(seq 1 "$2"); do echo -n " $1$i"; done; echo; }

# ns_refuse_existing PREFIX N: exits if any namespace of the topology exists.
ns_refuse_existing() {
  local n
  for n in $(ns_names "$1" "$2"); do
    ip netns list | grep -qw "^$n" && { echo "netns $n exists (run: bash $0 clean)"; exit 1; }
  done
  return 0
}

# ns_delete PREFIX N: removes the topology (quietly; prints what it deleted if VERBOSE is set).
ns_delete() {
  local n
  for n in $(ns_names "$1" "$2"); do ip netns del "$n" 2>/dev/null && [ -n "${VERBOSE:-}" ] && echo "deleted netns $n"; done
  return 0
}

# ns_create PREFIX SUBNET N: bridge namespace plus N node namespaces on it.
ns_create() {
  local p=$1 subnet=$2 n=$3 i
  ip netns add "$p-br"; ip -n "$p-br" link set lo up
  ip -n "$p-br" link add br0 type bridge; ip -n "$p-br" link set br0 up
  for i in $(seq 1 "$n"); do
    ip netns add "$p$i"
    ip -n "$p-br" link add "p$i" type veth peer name eth0 netns "$p$i"
    ip -n "$p-br" link set "p$i" master br0 up
    ip -n "$p$i" link set lo up
    ip -n "$p$i" addr add "$subnet.$i/24" dev eth0
    ip -n "$p$i" link set eth0 up
  done
}

# write_conf FILE CLUSTER SUBNET N TOKEN(ms|default) DIR: a udpu corosync.conf (crypto off)
# logging to DIR/daemon.log with state in DIR/state, for nodes 1..N at SUBNET.i.
write_conf() {
  local f=$1 cluster=$2 subnet=$3 n=$4 token=$5 dir=$6 i
  mkdir -p "$dir/state" "$dir/run"
  {
    echo "totem {"
    echo "    version: 2"
    echo "    cluster_name: $cluster"
    echo "    transport: udpu"
    echo "    crypto_cipher: none"
    echo "    crypto_hash: none"
    [ "$token" != default ] && echo "    token: $token"
    echo "}"
    cat <<EOF
logging {
    to_stderr: no
    to_logfile: yes
    logfile: $dir/daemon.log
    to_syslog: no
    timestamp: hires
    debug: off
}
quorum {
    provider: corosync_votequorum
}
system {
    state_dir: $dir/state
}
nodelist {
EOF
    for i in $(seq 1 "$n"); do
      printf '    node {\n        name: n%s\n        nodeid: %s\n        ring0_addr: %s.%s\n    }\n' "$i" "$i" "$subnet" "$i"
    done
    echo "}"
  } > "$f"
}

# start_corosync NS DIR: corosync 3 in namespace NS with a private /run (its lock file is
# /var/run/corosync.pid); prints the PID.
start_corosync() {
  ip netns exec "$1" unshare -m sh -c "mount --bind $2/run /run && exec corosync -f -c $2/corosync.conf" \
    >> "$2/stderr.log" 2>&1 < /dev/null &
  echo $!
}

# shm_forget PID...: removes what stopped daemons left in /dev/shm — corosync's flight
# recorder (8 MB a process, left behind when it is killed) and libqb files named after them.
# /dev/shm is memory: a day of benchmarks left 900 MB there.
shm_forget() {
  local p
  for p in "$@"; do
    kill -0 "$p" 2>/dev/null && continue
    rm -rf /dev/shm/qb-corosync-"$p"-blackbox-* /dev/shm/qb-"$p"-* 2>/dev/null
  done
}

# stop_pids PID...: SIGTERM, up to 5 s for them to exit, SIGKILL for the rest, then what they
# left in /dev/shm (shm_forget).
stop_pids() {
  local p alive
  for p in "$@"; do kill -TERM "$p" 2>/dev/null; done
  for _ in $(seq 50); do alive=0; for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done; [ $alive = 0 ] && break; sleep 0.1; done
  for p in "$@"; do kill -KILL "$p" 2>/dev/null; done; sleep 0.1; shm_forget "$@"
}

# start_ferrosyncd NS DIR [ENV=VALUE...]: ferrosyncd in namespace NS; prints the PID.
start_ferrosyncd() {
  local ns=$1 dir=$2; shift 2
  ip netns exec "$ns" env "$@" "$FERROSYNCD" -f -c "$dir/corosync.conf" -p "$dir/run/ferrosyncd.pid" \
    >> "$dir/stderr.log" 2>&1 < /dev/null &
  echo $!
}

# status_field DIR EXPR: a Python expression over ferrosyncd's status file `d`.
status_field() {
  python3 -c "import json; d=json.load(open('$1/state/status.json')); print($2)" 2>/dev/null
}

# wait_for SECONDS CMD...: runs CMD until it succeeds or SECONDS pass.
wait_for() {
  local end=$(( $(date +%s) + $1 )); shift
  while [ "$(date +%s)" -lt "$end" ]; do "$@" && return 0; sleep 0.2; done; return 1
}
