#!/usr/bin/env bash
# Installs and starts what amigo's tests need, idempotently: the tools from
# the Go module proxy and Debian, and the local PostgreSQL and NATS servers.
# Safe to run again and again; it only acts on what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$PATH:$(go env GOPATH)/bin"
STATICCHECK_VERSION=v0.8.2

log() { printf 'setup: %s\n' "$*"; }

# Debian packages the tests use (prometheus brings promtool, for the
# dashboard and alert-rule test). apt-get update runs at most once, and only
# when something is missing.
need_pkgs=()
for spec in "xmllint:libxml2-utils" "socat:socat" "pg_ctlcluster:postgresql" "nats-server:nats-server" "chromium:chromium" "softhsm2-util:softhsm2" "termineter:termineter" "prometheus:prometheus"; do
  bin=${spec%%:*}; pkg=${spec#*:}
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || need_pkgs+=("$pkg")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

if ! command -v staticcheck >/dev/null 2>&1 || ! staticcheck -version 2>/dev/null | grep -q "${STATICCHECK_VERSION#v}"; then
  log "installing staticcheck $STATICCHECK_VERSION"
  go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
fi

# answers HOST PORT: is something listening?
answers() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_for() {
  local name=$1 port=$2
  for _ in $(seq 1 100); do
    answers 127.0.0.1 "$port" && return 0
    sleep 0.2
  done
  echo "setup: $name did not start on 127.0.0.1:$port" >&2
  return 1
}

if ! answers 127.0.0.1 5432; then
  log "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start || true
  wait_for PostgreSQL 5432
fi
# The tests use the database "test" as user postgres (trust auth on loopback).
if ! psql -h 127.0.0.1 -U postgres -d test -Atqc 'select 1' >/dev/null 2>&1; then
  log "creating database test"
  su postgres -c "createdb test" 2>/dev/null || psql -h 127.0.0.1 -U postgres -Atqc 'create database test' >/dev/null
fi

if ! answers 127.0.0.1 4222; then
  log "starting NATS with JetStream"
  mkdir -p /var/lib/nats-server /var/log
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  wait_for NATS 4222
fi
# The independent protocol peers the interoperability tests run (npm, pinned
# in scripts/peers/package-lock.json). npm 11 does not run install scripts,
# so node-mbus's addon (libmbus) is built here, against Debian's Node headers.
peers=scripts/peers
if [ ! -f "$peers/node_modules/.amigo-lock" ] || ! cmp -s "$peers/package-lock.json" "$peers/node_modules/.amigo-lock"; then
  log "installing the npm test peers"
  (cd "$peers" && npm ci --no-audit --no-fund --ignore-scripts >/dev/null)
  rm -f "$peers/node_modules/.amigo-lock"
fi
if [ ! -f "$peers/node_modules/node-mbus/build/Release/mbus.node" ]; then
  log "building node-mbus (libmbus)"
  (cd "$peers/node_modules/node-mbus" && ../.bin/node-gyp rebuild --nodedir=/usr >/dev/null 2>&1) || {
    echo "setup: node-mbus did not build; run: cd $peers/node_modules/node-mbus && ../.bin/node-gyp rebuild --nodedir=/usr" >&2
    exit 1
  }
fi
cp "$peers/package-lock.json" "$peers/node_modules/.amigo-lock"

log "ready"
