#!/usr/bin/env bash
# make bench: every scenario at 1 and 16 clients on one throwaway, durable
# cluster (fsync and synchronous_commit on), with the baselines measured in
# the same run, then the ratios. Nothing here asserts timings: it reports.
# When redis-server is installed and allot-bench has hiredis, a last section
# compares allot.redeem with the Redis + Lua sliding-window limiter on a
# throwaway loopback redis-server (same load generator, same keys).
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
cleanup() {
    # The Redis comparison's server, when one was started (its pid only).
    if [ -s "$dir/redis.pid" ]; then
        kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
    fi
    "$repo/tests/harness/cluster.sh" destroy "$dir" >/dev/null 2>&1 || true
}
trap cleanup EXIT
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

# Redis + Lua: the usual multi-key sliding-window limiter (one EVALSHA over
# the same 3 keys per redemption, limits per 60 s window) driven by the same
# load generator and key choice as allot.redeem, when redis-server is
# installed and allot-bench has hiredis. Both sides: allot-bench --scenario
# uniform (100k vouchers, 1M users, 10k shops), one call per redemption.
redis_skip=""
if ! command -v redis-server >/dev/null 2>&1; then
    redis_skip="redis-server is not on PATH (it is optional: apt-get install redis-server)"
elif ! "$allot_bench" --backends 2>/dev/null | grep -qx redis; then
    redis_skip="allot-bench was built without hiredis (install libhiredis-dev, then rerun)"
fi
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if [ -z "$redis_skip" ]; then
    redis_port=""
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        p=$((57000 + RANDOM % 1000))
        port_in_use "$p" || { redis_port="$p"; break; }
    done
    if [ -z "$redis_port" ]; then
        redis_skip="no free port for redis-server"
    elif ! redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
            --daemonize yes --pidfile "$dir/redis.pid" --dir "$dir" \
            --logfile "$dir/redis.log" >/dev/null 2>&1; then
        redis_skip="redis-server did not start"
    else
        for _ in $(seq 50); do port_in_use "$redis_port" && break; sleep 0.1; done
        port_in_use "$redis_port" || redis_skip="redis-server did not start (see $dir/redis.log)"
    fi
fi
json_num() {  # file key: the first "key": number in allot-bench's JSON
    sed -n "s/.*\"$2\": *\([0-9.]*\).*/\1/p" "$1" | head -1
}
echo
if [ -n "$redis_skip" ]; then
    echo "Redis + Lua row skipped: $redis_skip"
else
    echo "Redis + Lua (not durable, not transactional, no audit log)"
    echo "redeem 3 keys spread: allot-bench --scenario uniform, one call per redemption;"
    echo "pg: allot.redeem, durable commits; redis: one EVALSHA, ZSET per key, 60 s sliding window"
    declare -A cmp
    for c in $clients_list; do
        for b in pg redis; do
            if [ "$b" = pg ]; then
                psql -X -q -c CHECKPOINT
                extra=()
            else
                # Each run starts from an empty server, as the pg rows start
                # from a checkpoint.
                command -v redis-cli >/dev/null 2>&1 && redis-cli -p "$redis_port" FLUSHALL >/dev/null
                extra=(--backend redis --redis "127.0.0.1:$redis_port")
            fi
            "$allot_bench" --quiet --scenario uniform --threads "$c" --duration "$seconds" \
                "${extra[@]}" --json "$dir/cmp_${b}_$c.json" >"$dir/cmp_${b}_$c.txt" \
                || { cat "$dir/cmp_${b}_$c.txt"; exit 1; }
            cmp[$b,$c,rate]="$(json_num "$dir/cmp_${b}_$c.json" redemptions_per_s)"
            cmp[$b,$c,p50]="$(json_num "$dir/cmp_${b}_$c.json" p50)"
            cmp[$b,$c,p99]="$(json_num "$dir/cmp_${b}_$c.json" p99)"
            printf '%-15s %3s clients  %10.0f redemptions/s  p50 %6s us  p99 %6s us\n' \
                "$b" "$c" "${cmp[$b,$c,rate]}" "${cmp[$b,$c,p50]}" "${cmp[$b,$c,p99]}"
        done
    done
    for c in $clients_list; do
        awk -v c="$c" -v pr="${cmp[pg,$c,rate]}" -v rr="${cmp[redis,$c,rate]}" \
            -v p5="${cmp[pg,$c,p50]}" -v r5="${cmp[redis,$c,p50]}" \
            -v p9="${cmp[pg,$c,p99]}" -v r9="${cmp[redis,$c,p99]}" \
            'function x(a, b) { return b > 0 ? sprintf("%.2fx", a / b) : "n/a" }
             BEGIN { printf "%-15s %3s clients  %s redis throughput, p50 %s, p99 %s\n", "pg / redis",
                     c, x(pr, rr), x(p5, r5), x(p9, r9) }'
    done
fi
echo
psql -X -q -At -c "SELECT 'verify() rows after the run: ' || count(*) FROM allot.verify()"
