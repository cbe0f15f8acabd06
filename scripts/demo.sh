#!/usr/bin/env bash
# make demo: the seed scenario of the upstream-schema-changes guide, run by
# mzsync end to end against mzemu --embedded (an emulator backed by a
# throwaway PostgreSQL, which also plays the upstream database).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
work=$(mktemp -d)
emu_pid=""
cleanup() {
  if [ -n "$emu_pid" ]; then kill "$emu_pid" 2>/dev/null || true; wait "$emu_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Start mzemu --embedded (Materialize emulator over a throwaway PostgreSQL)"
"$BIN/mzemu" --embedded --listen 127.0.0.1:0 --hydration-delay 1500ms >"$work/endpoints" 2>"$work/mzemu.log" &
emu_pid=$!
for _ in $(seq 1 100); do
  grep -q '^upstream=' "$work/endpoints" 2>/dev/null && break
  kill -0 "$emu_pid" 2>/dev/null || { cat "$work/mzemu.log" >&2; exit 1; }
  sleep 0.1
done
MZ=$(sed -n 's/^materialize=//p' "$work/endpoints")
UP=$(sed -n 's/^upstream=//p' "$work/endpoints")
[ -n "$MZ" ] && [ -n "$UP" ] || { echo "mzemu did not print its endpoints" >&2; cat "$work/mzemu.log" >&2; exit 1; }
echo "materialize: $MZ"
echo "upstream:    $UP"
export MZSYNC_MATERIALIZE="$MZ" PG_UPSTREAM_URL="$UP"

mzsql() { psql -X -q -v ON_ERROR_STOP=1 "$MZ" "$@"; }
upsql() { psql -X -q -v ON_ERROR_STOP=1 "$UP" "$@"; }

step "Upstream PostgreSQL: table T(a) with one row, a publication"
upsql -c "CREATE TABLE t (a int); ALTER TABLE t REPLICA IDENTITY FULL; INSERT INTO t VALUES (10); CREATE PUBLICATION mz_source FOR TABLE t;"

step "Operator: the connection (credentials stay out of git)"
up_port=$(printf '%s' "$UP" | sed -E 's#.*@[^:]+:([0-9]+)/.*#\1#')
up_db=$(printf '%s' "$UP" | sed -E 's#.*/([^/?]+)(\?.*)?$#\1#')
mzsql -c "CREATE CONNECTION pg_conn TO POSTGRES (HOST '127.0.0.1', PORT $up_port, USER 'postgres', DATABASE '$up_db')"

# The manifest repository as it was before v2: examples/manifests-v1
# declares the source, schema app with v1 active, and v1.
mkdir -p "$work/manifests"
cp -r examples/manifests-v1/. "$work/manifests/"

step "mzsync validate"
"$BIN/mzsync" validate --dir "$work/manifests"

step "mzsync plan (first deployment of app/v1)"
"$BIN/mzsync" plan --dir "$work/manifests"

step "mzsync apply --wait"
"$BIN/mzsync" apply --dir "$work/manifests" --wait --timeout 2m

step "Consumers read app.matview"
mzsql -c "SELECT * FROM app.matview"

step "Upstream adds column b and a row (20, true)"
upsql -c "ALTER TABLE t ADD COLUMN b boolean DEFAULT false; INSERT INTO t (a, b) VALUES (20, true);"
mzsql -c "SELECT * FROM app.matview" -c "SHOW COLUMNS FROM app.t"

step "mzsync drift: upstream is ahead of what app/v1 ingests"
"$BIN/mzsync" drift --dir "$work/manifests" || true

step "A pull request declares app/v2 and makes it active"
rm -rf "$work/manifests" && mkdir -p "$work/manifests"
cp -r examples/manifests/. "$work/manifests/"
"$BIN/mzsync" plan --dir "$work/manifests"

step "mzsync apply --wait (builds app_v2 beside app, waits until hydrated, swaps)"
"$BIN/mzsync" apply --dir "$work/manifests" --wait --timeout 2m

step "Consumers read app.matview: same name, new version"
mzsql -c "SELECT * FROM app.matview" -c "SHOW COLUMNS FROM app.t"

step "mzsync status (catalog compared with the manifests)"
"$BIN/mzsync" status --dir "$work/manifests"

step "Rollback is one swap: set active back to v1, plan, apply"
sed -i 's/^\(  active:\) v2/\1 v1/' "$work/manifests/app/schema.yaml"
"$BIN/mzsync" plan --dir "$work/manifests"
"$BIN/mzsync" apply --dir "$work/manifests" --wait --timeout 1m
mzsql -c "SELECT * FROM app.matview"

echo
echo "demo complete"
