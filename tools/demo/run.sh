#!/usr/bin/env bash
# make demo: a flash sale on a throwaway local cluster, driven by allot-bench.
#   tools/demo/run.sh [SECONDS]   run it (default 30 s of traffic)
#   tools/demo/run.sh stop        stop and remove the demo's cluster
#
# The story: coupon cards hang in a store window; one card goes viral and a
# flash mob scans it from thousands of phones (half of all traffic), while
# the rest redeem vouchers from a long tail of 5,000. Limits: each voucher
# 200 in total, the viral card 20,000; one per user per voucher; five per
# user per day; 1,500 per shop in any minute.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dir=/tmp/pg_allot_demo
port=55999
cluster="$repo/tests/harness/cluster.sh"
build="$repo/build-demo"

if [ "${1:-}" = stop ]; then
  "$cluster" destroy "$dir" >/dev/null 2>&1 || true
  echo "demo cluster stopped and removed"
  exit 0
fi
seconds="${1:-30}"

bash "$repo/tools/install-deps.sh"
echo "== building and installing pg_allot, building allot-bench"
make -s -C "$repo" >/dev/null
make -s -C "$repo" install >/dev/null
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DALLOT_SANITIZE=OFF >/dev/null
cmake --build "$build" -j2 --target allot-bench >/dev/null

"$cluster" destroy "$dir" >/dev/null 2>&1 || true
mkdir -p "$dir"
eval "$("$cluster" start "$dir" "$port" --preload -c fsync=on -c synchronous_commit=on \
        -c max_connections=100)"
export PGDATABASE=demo
createdb demo
psql -X -q -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION pg_allot'

echo "== flash sale: 16 phones' worth of connections for ${seconds}s; half the traffic scans the viral card"
status=0
"$build/tools/allot-bench/allot-bench" --setup --scenario flash --threads 16 \
  --duration "$seconds" --vouchers 5000 --users 200000 --shops 40 \
  --hot-voucher CARD-WINDOW --limit-hot 20000 --keys-per-redemption 4 --shop-window fixed \
  --timeline "$dir/timeline.csv" --chart "$dir/chart.svg" --json "$dir/report.json" || status=$?
psql -X -q -c 'SELECT * FROM allot.rollup()' >/dev/null

echo
echo "Chart of the sale (open in a browser): $dir/chart.svg"
echo "The cluster is still running. Audit the sale yourself:"
echo "  psql -h $dir -p $port -U postgres demo"
echo "  e.g. SELECT * FROM allot.usage ORDER BY used DESC LIMIT 10;"
echo "       SELECT * FROM allot.verify();   -- empty: counters agree with the log"
echo "Stop it with: make demo-stop"
exit "$status"
