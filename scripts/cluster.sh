#!/usr/bin/env bash
# Runs amigo as a cluster on this machine: three nats-server nodes in one
# JetStream cluster, one PostgreSQL database, and amigo nodes by role, on
# loopback ports. Everything lives under the state directory: the binary,
# each process's config, data, log and pid, and the one master key every
# node shares.
#
#   scripts/cluster.sh up            # build, start what is not running, wait until ready
#   scripts/cluster.sh status        # each process, its address, config and log
#   scripts/cluster.sh down          # stop everything, keep the data
#   scripts/cluster.sh down --wipe   # stop and delete the state and the database
#
# The default nodes (AMIGO_CLUSTER_NODES, name=roles separated by spaces):
#   n1=headend,api  n2=headend,mdm  n3=mdm,api
# Environment:
#   AMIGO_CLUSTER_DIR   state directory (default $TMPDIR/amigo-cluster)
#   AMIGO_CLUSTER_PORT  first port (default 17000): NATS clients PORT+1..3,
#                       NATS routes PORT+11..13, NATS monitoring PORT+51..53, node HTTP PORT+21.., DLMS
#                       push PORT+31.., C12.22 push PORT+41..
#   AMIGO_CLUSTER_PG    PostgreSQL server URL without a database
#                       (default postgres://postgres@127.0.0.1:5432)
#   AMIGO_CLUSTER_DB    database name (default amigo_cluster)
set -euo pipefail
cd "$(dirname "$0")/.."

STATE=${AMIGO_CLUSTER_DIR:-${TMPDIR:-/tmp}/amigo-cluster}
PORT=${AMIGO_CLUSTER_PORT:-17000}
PG=${AMIGO_CLUSTER_PG:-postgres://postgres@127.0.0.1:5432}
DB=${AMIGO_CLUSTER_DB:-amigo_cluster}
NODES=${AMIGO_CLUSTER_NODES:-n1=headend,api n2=headend,mdm n3=mdm,api}
NATS_BIN=${NATS_SERVER:-/usr/sbin/nats-server}

log() { printf 'cluster: %s\n' "$*"; }
die() { printf 'cluster: %s\n' "$*" >&2; exit 1; }

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

nats_urls() {
  local urls=() i
  for i in 1 2 3; do urls+=("nats://127.0.0.1:$((PORT + i))"); done
  (IFS=,; echo "${urls[*]}")
}

# start NAME PIDFILE LOGFILE CMD...: starts CMD in the background unless
# it already runs.
start() {
  local name=$1 pidfile=$2 logfile=$3; shift 3
  if running "$pidfile"; then
    log "$name already running (pid $(cat "$pidfile"))"
    return
  fi
  nohup "$@" >>"$logfile" 2>&1 </dev/null &
  echo $! >"$pidfile"
  log "$name started (pid $!)"
}

nats_up() {
  local i routes=()
  for i in 1 2 3; do routes+=("nats-route://127.0.0.1:$((PORT + 10 + i))"); done
  for i in 1 2 3; do
    local dir=$STATE/nats-$i
    mkdir -p "$dir"
    cat >"$dir/nats.conf" <<EOF
server_name: nats-$i
listen: 127.0.0.1:$((PORT + i))
http: 127.0.0.1:$((PORT + 50 + i))
jetstream {
  store_dir: "$dir/jetstream"
}
cluster {
  name: amigo
  listen: 127.0.0.1:$((PORT + 10 + i))
  routes: [$(IFS=,; echo "${routes[*]}")]
}
EOF
    start "nats-$i" "$dir/pid" "$dir/log" "$NATS_BIN" -c "$dir/nats.conf"
  done
  for i in 1 2 3; do
    for _ in $(seq 1 100); do answers $((PORT + i)) && break; sleep 0.2; done
    answers $((PORT + i)) || die "nats-$i does not answer on 127.0.0.1:$((PORT + i)); see $STATE/nats-$i/log"
  done
  # A JetStream cluster takes streams only once it has elected a meta
  # leader; /healthz says so.
  for i in 1 2 3; do
    local ok=
    for _ in $(seq 1 300); do
      if curl -fsS -m 2 "http://127.0.0.1:$((PORT + 50 + i))/healthz" >/dev/null 2>&1; then ok=1; break; fi
      sleep 0.2
    done
    [ -n "$ok" ] || die "nats-$i JetStream is not ready; see $STATE/nats-$i/log"
  done
}

db_up() {
  local exists
  exists=$(psql "$PG/postgres" -Atqc "select 1 from pg_database where datname = '$DB'" 2>/dev/null) ||
    die "PostgreSQL at $PG does not answer (scripts/setup.sh starts one)"
  if [ "$exists" != 1 ]; then
    psql "$PG/postgres" -qc "create database \"$DB\"" >/dev/null
    log "database $DB created"
  fi
}

key_up() {
  if [ ! -s "$STATE/master.key" ]; then
    (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$STATE/master.key")
    log "master key generated into $STATE/master.key"
  fi
}

nodes_up() {
  local i=0 spec name roles
  for spec in $NODES; do
    i=$((i + 1)); name=${spec%%=*}; roles=${spec#*=}
    local dir=$STATE/$name
    mkdir -p "$dir/data"
    cat >"$dir/amigo.yaml" <<EOF
# amigo node $name of the cluster in $STATE
node:
  name: $name
  roles: [$(echo "$roles" | sed 's/,/, /g')]
data: $dir/data
http:
  addr: 127.0.0.1:$((PORT + 20 + i))
store:
  url: $PG/$DB?sslmode=disable
bus:
  url: $(nats_urls)
  replicas: 3
headend:
  master_key_file: $STATE/master.key
  push_addr: 127.0.0.1:$((PORT + 30 + i))
  c1222_push_addr: 127.0.0.1:$((PORT + 40 + i))
EOF
    # One at a time: the first creates the bus's streams, and a fresh
    # JetStream cluster asked to create them by several nodes at once may
    # time some out. A node that still fails at start is tried again.
    local attempt
    for attempt in 1 2 3; do
      start "$name ($roles)" "$dir/pid" "$dir/log" "$STATE/amigo" serve --config "$dir/amigo.yaml"
      wait_ready "$name" "http://127.0.0.1:$((PORT + 20 + i))" && break
      [ "$attempt" -lt 3 ] || die "$name did not start; see $dir/log"
      log "$name did not start (attempt $attempt); trying again"
    done
  done
}

# wait_ready NAME BASEURL: waits until the node's /readyz answers 200;
# fails at once when its process is gone.
wait_ready() {
  local name=$1 url=$2/readyz
  for _ in $(seq 1 300); do
    if curl -fsS -m 2 "$url" >/dev/null 2>&1; then
      log "$name ready at $2"
      return 0
    fi
    running "$STATE/$name/pid" || return 1
    sleep 0.2
  done
  die "$name is not ready at $url; see $STATE/$name/log"
}

up() {
  mkdir -p "$STATE"
  command -v "$NATS_BIN" >/dev/null || [ -x "$NATS_BIN" ] || die "no nats-server at $NATS_BIN (scripts/setup.sh installs it)"
  log "building $STATE/amigo"
  go build -o "$STATE/amigo" ./cmd/amigo
  db_up
  key_up
  nats_up
  nodes_up
  log "up; bus $(nats_urls), store $PG/$DB"
}

stop_pid() {
  local name=$1 pidfile=$2
  running "$pidfile" || { rm -f "$pidfile"; return 0; }
  local pid; pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    log "$name killed (did not stop within 30s)"
  else
    log "$name stopped"
  fi
  rm -f "$pidfile"
}

down() {
  local spec
  if [ -d "$STATE" ]; then
    # The amigo nodes first, so they flush to a bus that is still there.
    for spec in $NODES; do stop_pid "${spec%%=*}" "$STATE/${spec%%=*}/pid"; done
    for i in 1 2 3; do stop_pid "nats-$i" "$STATE/nats-$i/pid"; done
  fi
  if [ "${1:-}" = --wipe ]; then
    psql "$PG/postgres" -qc "drop database if exists \"$DB\" with (force)" >/dev/null 2>&1 || log "could not drop database $DB"
    rm -rf "$STATE"
    log "state and database $DB deleted"
  fi
}

status() {
  [ -d "$STATE" ] || { log "no cluster in $STATE"; return 1; }
  local i spec name rc=0
  printf '%-8s %-8s %-26s %s\n' PROCESS STATE ADDRESS "CONFIG / LOG"
  for i in 1 2 3; do
    local s=stopped; running "$STATE/nats-$i/pid" && s=running || rc=1
    printf '%-8s %-8s %-26s %s\n' "nats-$i" "$s" "nats://127.0.0.1:$((PORT + i))" "$STATE/nats-$i/nats.conf $STATE/nats-$i/log"
  done
  i=0
  for spec in $NODES; do
    i=$((i + 1)); name=${spec%%=*}
    local s=stopped addr=http://127.0.0.1:$((PORT + 20 + i))
    if running "$STATE/$name/pid"; then
      s=running
      curl -fsS -m 2 "$addr/readyz" >/dev/null 2>&1 && s=ready
    else
      rc=1
    fi
    printf '%-8s %-8s %-26s %s\n' "$name" "$s" "$addr" "$STATE/$name/amigo.yaml $STATE/$name/log (roles ${spec#*=})"
  done
  echo "store: $PG/$DB   bus: $(nats_urls)   master key: $STATE/master.key"
  return $rc
}

case "${1:-}" in
  up) up ;;
  down) shift; down "${1:-}" ;;
  status) status ;;
  *) echo "usage: scripts/cluster.sh up | status | down [--wipe]" >&2; exit 2 ;;
esac
