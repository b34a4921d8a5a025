#!/usr/bin/env bash
# make demo: a flash sale on a throwaway local cluster.
#   tools/demo/run.sh [SECONDS]   run it (default 20 s of traffic)
#   tools/demo/run.sh stop        stop and remove the demo's cluster
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dir=/tmp/pg_allot_demo
port=55999
cluster="$repo/tests/harness/cluster.sh"

if [ "${1:-}" = stop ]; then
  "$cluster" destroy "$dir" >/dev/null 2>&1 || true
  echo "demo cluster stopped and removed"
  exit 0
fi
seconds="${1:-20}"

"$repo/tools/install-deps.sh"
echo "== building and installing pg_allot"
make -s -C "$repo" >/dev/null
make -s -C "$repo" install >/dev/null

"$cluster" destroy "$dir" >/dev/null 2>&1 || true
mkdir -p "$dir"
eval "$("$cluster" start "$dir" "$port" --preload -c fsync=on -c synchronous_commit=on)"
export PGDATABASE=demo
createdb demo
psql -X -q -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION pg_allot' -f "$repo/bench/keys.sql" -f "$here/limits.sql" >/dev/null

echo "== flash sale: 16 shoppers' phones for ${seconds}s; half of them scan the viral card"
pgbench -n -M prepared -c 16 -j 2 -T "$seconds" -P 5 -f "$here/flash_sale.sql" 2>&1 \
  | grep -E '^progress|^tps|^latency average' || true
psql -X -q -c 'SELECT * FROM allot.rollup()' >/dev/null
psql -X -q -f "$here/report.sql"
echo
echo "The cluster is still running. Audit the sale yourself:"
echo "  psql -h $dir -p $port -U postgres demo"
echo "  e.g. SELECT * FROM allot.usage ORDER BY used DESC LIMIT 10;"
echo "Stop it with: make demo-stop"
