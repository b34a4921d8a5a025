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
batch_clients_list="${BENCH_BATCH_CLIENTS:-4 16}"

make -s -C "$repo" >/dev/null
make -s -C "$repo" install >/dev/null
build="$repo/build-bench"
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DALLOT_SANITIZE=OFF >/dev/null
cmake --build "$build" -j2 --target allot-bench >/dev/null
allot_bench="$build/tools/allot-bench/allot-bench"

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
# Batches: allot.redeem_many with 100 requests per call (allot-bench,
# uniform keys over 100k vouchers, 1M users, 10k shops, the limits of
# setup.sql), against a 100-row INSERT transaction. Rates are rows or
# redemptions per second.
declare -A rows
for c in $batch_clients_list; do
    psql -X -q -c CHECKPOINT
    out="$(pgbench -n -M prepared -T "$seconds" -c "$c" -j 2 -f "$here/pgbench/insert100.sql" 2>&1)"
    rows[insert100,$c]="$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out" | awk '{print $1 * 100}')"
    printf '%-15s %3s clients  %10.0f rows/s\n' insert100 "$c" "${rows[insert100,$c]}"
    psql -X -q -c CHECKPOINT
    "$allot_bench" --quiet --scenario uniform --batch 100 --threads "$c" --duration "$seconds" \
        --json "$dir/batch_$c.json" >"$dir/batch_$c.txt" || { cat "$dir/batch_$c.txt"; exit 1; }
    rows[batch100,$c]="$(sed -n 's/.*"redemptions_per_s": *\([0-9.]*\).*/\1/p' "$dir/batch_$c.json" | head -1)"
    printf '%-15s %3s clients  %10.0f redemptions/s\n' redeem_many100 "$c" "${rows[batch100,$c]}"
done

echo
echo "ratios (redeem / baseline, same cluster, same run):"
for c in $clients_list; do
    for s in redeem_spread redeem_hot; do
        awk -v s="$s" -v c="$c" -v r="${tps[$s,$c]}" -v i="${tps[insert,$c]}" -v n="${tps[naive,$c]}" \
            'BEGIN { printf "%-15s %3s clients  %.2fx bare INSERT  %.2fx naive\n", s, c, r / i, r / n }'
    done
done
for c in $batch_clients_list; do
    awk -v c="$c" -v r="${rows[batch100,$c]}" -v i="${rows[insert100,$c]}" \
        'BEGIN { printf "%-15s %3s clients  %.2fx a 100-row INSERT transaction (per row)\n", "redeem_many100", c, r / i }'
done
psql -X -q -At -c "SELECT 'verify() rows after the run: ' || count(*) FROM allot.verify()"
