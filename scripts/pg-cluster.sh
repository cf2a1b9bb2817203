#!/usr/bin/env bash
# Start or stop a throwaway PostgreSQL cluster on loopback in a temporary folder.
#   eval "$(scripts/pg-cluster.sh start)"   → exports PGTEST_DIR, PGTEST_PORT, DATABASE_URL
#   scripts/pg-cluster.sh stop "$PGTEST_DIR"
# PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user.
set -euo pipefail
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  start)
    dir=$(mktemp -d /tmp/pgtest.XXXXXX)
    chmod 755 "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "$PGBIN/initdb" -D "$dir/data" -U app --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; echo "initdb thất bại" >&2; exit 1; }
    as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off -c max_connections=200" start >/dev/null \
      || { cat "$dir/server.log" >&2; echo "PostgreSQL không khởi động được" >&2; exit 1; }
    as_owner "$PGBIN/createdb" -h 127.0.0.1 -p "$port" -U app app_test
    echo "export PGTEST_DIR=$dir PGTEST_PORT=$port"
    echo "export DATABASE_URL=postgresql+psycopg://app@127.0.0.1:$port/app_test"
    ;;
  stop)
    dir="${2:?thư mục cụm}"
    as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    rm -rf "$dir"
    ;;
  *)
    echo "dùng: $0 start | stop DIR" >&2
    exit 2
    ;;
esac
