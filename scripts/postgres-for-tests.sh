# Sourced by scripts/test. Finds a PostgreSQL server for the test suite and exports
# TEST_DATABASE_URL (an admin connection; each test creates its own database there):
#   1. TEST_DATABASE_URL, if already set;
#   2. else the server on 127.0.0.1:5432 (user postgres, trust auth), if it answers;
#   3. else a throwaway cluster started from the installed PostgreSQL binaries, removed on exit;
#   4. else it says what to install and fails.

pg_bin_dir() {
  if command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
    return
  fi
  # Debian and Ubuntu keep the server binaries out of PATH.
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

start_throwaway_postgres() {
  local bin port dir runas=()
  bin=$(pg_bin_dir)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "scripts/test: the test suite needs PostgreSQL 15 or newer, and none was found." >&2
    echo "  Either set TEST_DATABASE_URL=postgres://user@host:port/postgres (a user allowed to CREATE DATABASE)," >&2
    echo "  or install the server so a throwaway cluster can be started (Debian/Ubuntu: apt-get install postgresql)." >&2
    exit 1
  fi
  port=${MANA_TEST_PG_PORT:-55432}
  dir=$(mktemp -d /tmp/mana-test-pg.XXXXXX)
  if [ "$(id -u)" = 0 ]; then
    # initdb refuses to run as root; the cluster belongs to the postgres user.
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$dir"
    runas=(runuser -u postgres --)
  fi
  echo "$(basename "$0"): starting a throwaway PostgreSQL ($bin) on port $port" >&2
  "${runas[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  "${runas[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null ||
    { cat "$dir/server.log" >&2; exit 1; }
  THROWAWAY_PG_CTL=("${runas[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log")
  THROWAWAY_PG=("${THROWAWAY_PG_CTL[@]}" -m fast stop)
  THROWAWAY_PG_DIR=$dir
  export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
}

stop_throwaway_postgres() {
  if [ -n "${THROWAWAY_PG_DIR:-}" ]; then
    "${THROWAWAY_PG[@]}" >/dev/null 2>&1 || true
    rm -rf "$THROWAWAY_PG_DIR"
  fi
}

local_postgres_answers() {
  command -v pg_isready >/dev/null 2>&1 || return 1
  pg_isready -q -h 127.0.0.1 -p 5432 -U postgres
}

ensure_test_postgres() {
  if [ -n "${TEST_DATABASE_URL:-}" ]; then
    echo "scripts/test: PostgreSQL from TEST_DATABASE_URL" >&2
  elif local_postgres_answers; then
    export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres"
    echo "scripts/test: PostgreSQL on 127.0.0.1:5432" >&2
  else
    start_throwaway_postgres
  fi
}

# Each test leaves a database named mana_test_<uuid>; drop those of earlier runs.
drop_test_databases() {
  # Nothing to drop if the run stopped before a server was chosen.
  [ -n "${TEST_DATABASE_URL:-}" ] || return 0
  command -v psql >/dev/null 2>&1 || return 0
  psql "$TEST_DATABASE_URL" -Atqc "SELECT datname FROM pg_database WHERE datname LIKE 'mana_test_%'" 2>/dev/null |
    while read -r name; do
      psql "$TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null 2>&1 || true
    done
}
