#!/usr/bin/env bash
# Makes sure PostgreSQL server binaries (with contrib, for postgres_fdw) are
# on this machine, installing Debian's packages when they are missing.
# Integration tests never skip for lack of a database: they need this.
set -euo pipefail

have_server() {
  local d
  if command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir)
    [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && return 0
  fi
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && return 0
  done
  return 1
}

have_fdw() {
  ls /usr/share/postgresql/*/extension/postgres_fdw.control >/dev/null 2>&1
}

if have_server && have_fdw; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "PostgreSQL server binaries with contrib (postgres_fdw) are missing and this user cannot install them." >&2
  echo "Install them as root: apt-get install -y postgresql postgresql-contrib" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "PostgreSQL server binaries are missing and apt-get is not available; install PostgreSQL 13+ with contrib." >&2
  exit 1
fi
echo "installing PostgreSQL (postgresql, postgresql-contrib)..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq postgresql postgresql-contrib >/dev/null
have_server && have_fdw || { echo "PostgreSQL installation did not provide initdb/postgres/postgres_fdw" >&2; exit 1; }
