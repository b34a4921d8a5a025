#!/usr/bin/env bash
# make bench: every scenario at 1 and 16 clients on one throwaway, durable
# cluster (fsync and synchronous_commit on), with the baselines measured in
# the same run, then the ratios. Nothing here asserts timings: it reports.
#
#   bench/run.sh [SECONDS_PER_RUN]      (default 10)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
seconds="${1:-10}"
clients_list="${BENCH_CLIENTS:-1 16}"

make -s -C "$repo" >/dev/null
make -s -C "$repo" install >/dev/null

dir="$(mktemp -d /tmp/pg_allot_bench.XXXXXX)"
trap '"$repo/tests/harness/cluster.sh" destroy "$dir" >/dev/null 2>&1 || true' EXIT
port=$((56000 + RANDOM % 1000))
eval "$("$repo/tests/harness/cluster.sh" start "$dir" "$port" \
        -c fsync=on -c synchronous_commit=on -c max_connections=100)"
export PGDATABASE=bench
createdb bench
psql -X -q -v ON_ERROR_STOP=1 -f "$here/setup.sql" >/dev/null

declare -A tps
run() {  # scenario clients
    local out
    # Each run starts right after a checkpoint, so none of them pays for
    # the setup's bulk load or for another run's dirty pages.
    psql -X -q -c CHECKPOINT
    out="$(pgbench -n -M prepared -T "$seconds" -c "$2" -j "$(( $2 < 2 ? 1 : 2 ))" \
           -f "$here/pgbench/$1.sql" 2>&1)" || { echo "$out" >&2; exit 1; }
    tps[$1,$2]="$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out" | head -1)"
    local lat
    lat="$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' <<<"$out")"
    printf '%-15s %3s clients  %10.0f tx/s  %8s ms avg\n' "$1" "$2" "${tps[$1,$2]}" "$lat"
}

echo "pg_allot benchmark: ${seconds}s per run, durable commits"
for c in $clients_list; do
    for s in insert naive redeem_spread redeem_hot; do run "$s" "$c"; done
done
echo
echo "ratios (redeem / baseline, same cluster, same run):"
for c in $clients_list; do
    for s in redeem_spread redeem_hot; do
        awk -v s="$s" -v c="$c" -v r="${tps[$s,$c]}" -v i="${tps[insert,$c]}" -v n="${tps[naive,$c]}" \
            'BEGIN { printf "%-15s %3s clients  %.2fx bare INSERT  %.2fx naive\n", s, c, r / i, r / n }'
    done
done
psql -X -q -At -c "SELECT 'verify() rows after the run: ' || count(*) FROM allot.verify()"
