#!/usr/bin/env bash
# Makes sure Postgres (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer,
# and with `--brokers` (the test command) also the brokers the broker kinds
# are tested against: RabbitMQ (127.0.0.1:5672, guest/guest) and NATS with
# JetStream (127.0.0.1:4222). The demo needs neither broker.
# Order of preference for each: one already running; the installed server
# started on a private data directory under .data/ (ignored by git); the
# system package installed with apt-get (only when run as root).
# Also makes sure the server binaries (initdb, pg_ctl, redis-server) and a
# `postgres` user exist even when servers already answer: the chaos test
# starts a Postgres and a Redis of its own and restarts them.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${SERVICES_DATA_DIR:-$root/.data}"
pg_port=${SERVICES_PG_PORT:-5432}
redis_port=${SERVICES_REDIS_PORT:-6379}
amqp_port=5672
nats_port=4222

say() { printf '[services] %s\n' "$*" >&2; }

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

wait_for_port() {
  local port=$1 name=$2
  for _ in $(seq 1 60); do
    port_open "$port" && return 0
    sleep 0.5
  done
  say "$name did not start on port $port"
  return 1
}

apt_install() {
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "$1 is not installed; install it (or run this script as root on Debian/Ubuntu to have it installed)"
    exit 1
  fi
  say "installing $* with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "$@" >/dev/null
}

pg_bin_dir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then
    echo "$dir"
  elif command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
  fi
}

# Runs a Postgres binary as an unprivileged user: initdb and postgres refuse root.
as_pg_user() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start_postgres() {
  if port_open "$pg_port"; then
    say "postgres already answers on $pg_port"
    return
  fi
  local bin
  bin=$(pg_bin_dir)
  if [ -z "$bin" ]; then
    apt_install postgresql
    bin=$(pg_bin_dir)
  fi
  local dir="$data/postgres"
  mkdir -p "$data"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$data" postgres
    mkdir -p "$dir" && chown postgres "$data" "$dir"
  fi
  if [ ! -f "$dir/PG_VERSION" ]; then
    say "initialising a private Postgres cluster in $dir"
    as_pg_user "$bin/initdb" -D "$dir" -U postgres --auth=trust >/dev/null
  fi
  say "starting Postgres from $bin on $pg_port"
  as_pg_user "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w \
    -o "-h 127.0.0.1 -p $pg_port -k /tmp" start >/dev/null
  wait_for_port "$pg_port" postgres
}

start_redis() {
  if port_open "$redis_port"; then
    say "redis already answers on $redis_port"
    return
  fi
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  mkdir -p "$data/redis"
  say "starting Redis on $redis_port"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no \
    --dir "$data/redis" --logfile "$data/redis/redis.log"
  wait_for_port "$redis_port" redis
}

start_rabbitmq() {
  if port_open "$amqp_port"; then
    say "rabbitmq already answers on $amqp_port"
    return
  fi
  command -v rabbitmq-server >/dev/null 2>&1 || apt_install rabbitmq-server
  say "starting RabbitMQ on $amqp_port"
  rabbitmq-server -detached >/dev/null 2>&1 || rabbitmq-server >/dev/null 2>&1 &
  wait_for_port "$amqp_port" rabbitmq
}

# The broker tests also start nats-server processes of their own.
start_nats() {
  command -v nats-server >/dev/null 2>&1 || apt_install nats-server
  if port_open "$nats_port"; then
    say "nats already answers on $nats_port (it must have JetStream on: -js)"
    return
  fi
  mkdir -p "$data/nats"
  say "starting NATS with JetStream on $nats_port"
  nohup nats-server -js -a 127.0.0.1 -p "$nats_port" -sd "$data/nats" \
    -l "$data/nats/nats.log" >/dev/null 2>&1 &
  wait_for_port "$nats_port" nats
}

# The chaos test (services/switchyard/tests/chaos) runs these itself.
ensure_server_binaries() {
  if [ -z "$(pg_bin_dir)" ]; then
    if [ "$(id -u)" -eq 0 ]; then apt_install postgresql; else
      say "initdb/pg_ctl not found: the chaos test will fail (install postgresql)"
    fi
  fi
  if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then apt_install redis-server; else
      say "redis-server not found: the chaos test will fail (install redis-server)"
    fi
  fi
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    mkdir -p "$data"
    useradd --system --home-dir "$data" postgres
  fi
}

start_postgres
start_redis
if [ "${1:-}" = "--brokers" ]; then
  start_rabbitmq
  start_nats
fi
ensure_server_binaries
