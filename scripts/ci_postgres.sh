#!/usr/bin/env bash
# A throwaway PostgreSQL server for the storage tests, from Debian's `postgresql` package.
#
#   scripts/ci_postgres.sh start DIR   initdb + start a cluster in DIR on a free 127.0.0.1 port;
#                                      prints its postgresql:// URL on stdout (nothing else)
#   scripts/ci_postgres.sh stop DIR    stop it and delete DIR
#
# CI:
#   PGTMP=$(mktemp -d); trap 'scripts/ci_postgres.sh stop "$PGTMP"' EXIT
#   export POLICYQA_TEST_DATABASE_URL=$(scripts/ci_postgres.sh start "$PGTMP")
#
# initdb refuses to run as root, so as root the cluster runs as the `postgres` user.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
if [[ -z "$cmd" || -z "$dir" ]]; then
  echo "usage: $0 start|stop DIR" >&2
  exit 2
fi

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [[ -z "$bindir" || ! -x "$bindir/initdb" ]]; then
  echo "error: PostgreSQL is not installed (apt-get install postgresql)" >&2
  exit 3
fi

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "$cmd" in
  start)
    mkdir -p "$dir"
    [[ $(id -u) -eq 0 ]] && chown postgres: "$dir"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 3; }
    # Loopback only, socket in DIR (not /var/run), no durability needed for a test server.
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off" start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 3; }
    echo "postgresql://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    if [[ -d "$dir/data" ]]; then
      as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
