#!/usr/bin/env bash
# make bench: the redemption scenarios at 1, 16 and 64 clients, each beside
# its baselines measured in the same run at the same client count, on one
# throwaway durable cluster (fsync, synchronous_commit and full_page_writes
# on) with shared_preload_libraries = 'pg_allot'. It prints throughput and
# p50/p99 latency per run, the ratios, and a "targets" block (PASS/MISS with
# the numbers). Targets are reported, never asserted: the script exits 0 on
# a MISS and non-zero only when something fails to run.
#
# Scenarios (allot.redeem with 3 keys: voucher, user, shop; pgbench scripts
# in bench/pgbench, limits in bench/setup.sql):
#   zipf     voucher Zipf(1.1) over 100k, user Zipf(1.1) over 1M, shop Zipf(1.1) over 10k
#   flash    half of all redemptions on voucher:HOT, the rest as zipf
#   hot      every redemption on voucher:HOT, users and shops uniform
#   uniform  every key uniform (100k vouchers, 1M users, 10k shops)
# Baselines: insert (a bare one-row durable INSERT transaction) and, per
# scenario, naive_<scenario> (3 guarded UPDATE ... used = used + 1 and a log
# INSERT in one transaction, same key distribution as the scenario). And a
# ceiling: event_row, the audit row alone (the INSERT a grant runs, into
# bench_events, a copy of allot.events with its indexes, no pg_allot code):
# every redemption writes that row, so redeem() cannot beat it.
# Every pgbench run starts right after a CHECKPOINT. Latency percentiles
# come from pgbench's per-transaction logs (--log).
#
# Then: redeem_many batches of 100 (allot-bench) against a 100-row INSERT
# transaction and against its 100 audit rows alone (event_rows100); the
# Redis + Lua limiter, when redis-server is installed and allot-bench has
# hiredis; and the server's state after everything
# (allot.stats, allot.verify() after allot.rollup(), allot.violations), so
# an over-admitting run is reported.
#
#   bench/run.sh [SECONDS_PER_RUN]      (default 10; or BENCH_SECONDS)
#   BENCH_CLIENTS="1 16 64"             client counts of the scenario runs
#   BENCH_BATCH_CLIENTS="4 16"          client counts of the batch and Redis rows
#   BENCH_SKIP_BUILD=1                  use the installed extension and an
#                                       existing build-bench/ allot-bench
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
seconds="${1:-${BENCH_SECONDS:-10}}"
clients_list="${BENCH_CLIENTS:-1 16 64}"
batch_clients_list="${BENCH_BATCH_CLIENTS:-4 16}"
scenarios="zipf flash hot uniform"
max_connections=120

case "$seconds" in
    '' | *[!0-9]* | 0) echo "bench/run.sh: seconds per run must be a positive integer, got '$seconds'" >&2; exit 2 ;;
esac
for c in $clients_list $batch_clients_list; do
    case "$c" in
        '' | *[!0-9]* | 0) echo "bench/run.sh: bad client count '$c'" >&2; exit 2 ;;
    esac
    if [ "$c" -gt $((max_connections - 10)) ]; then
        echo "bench/run.sh: $c clients is too many for max_connections = $max_connections" >&2
        exit 2
    fi
done

build="$repo/build-bench"
allot_bench="$build/tools/allot-bench/allot-bench"
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ] || [ ! -x "$allot_bench" ]; then
    if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
        make -s -C "$repo" >/dev/null
        make -s -C "$repo" install >/dev/null
    fi
    cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DALLOT_SANITIZE=OFF >/dev/null
    cmake --build "$build" -j2 --target allot-bench >/dev/null
fi

dir="$(mktemp -d /tmp/pg_allot_bench.XXXXXX)"
cleanup() {
    # The Redis comparison's server, when one was started (its pid only).
    if [ -s "$dir/redis.pid" ]; then
        kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
    fi
    "$repo/tests/harness/cluster.sh" destroy "$dir" >/dev/null 2>&1 || true
}
trap cleanup EXIT
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# The cluster listens on a unix socket in $dir only, so its port cannot
# clash with another cluster's; the Redis server (TCP) gets another one.
port=$((58000 + RANDOM % 1000))
if ! exports="$("$repo/tests/harness/cluster.sh" start "$dir" "$port" --preload \
        -c fsync=on -c synchronous_commit=on -c full_page_writes=on \
        -c max_connections=$max_connections 2>"$dir/start.log")"; then
    cat "$dir/start.log" >&2
    echo "bench/run.sh: the cluster did not start" >&2
    exit 1
fi
eval "$exports"
export PGDATABASE=bench
createdb bench
psql -X -q -v ON_ERROR_STOP=1 -f "$here/setup.sql" >/dev/null
# One redemption before the runs: in a new database the first ones wait
# (up to 5 s) for the rollup worker to start there and make its first fold,
# which the first run (zipf, 1 client) would otherwise measure.
psql -X -q -v ON_ERROR_STOP=1 -c "SELECT allot.redeem(gen_random_uuid(), ARRAY['bench:warm-up'])" >/dev/null
mkdir "$dir/logs"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }

# ---------------------------------------------------------------- pgbench runs
declare -A tps p50 p99
run() {  # script clients
    local s="$1" c="$2" out prefix failed
    prefix="$dir/logs/${s}_$c"
    # Each run starts right after a checkpoint, so none of them pays for
    # the setup's bulk load or for another run's dirty pages.
    q CHECKPOINT
    if ! out="$(pgbench -n -M prepared -T "$seconds" -c "$c" -j "$(( c < 2 ? 1 : 2 ))" \
                --log --log-prefix="$prefix" -f "$here/pgbench/$s.sql" 2>&1)"; then
        echo "$out" >&2
        echo "bench/run.sh: pgbench $s at $c clients failed" >&2
        exit 1
    fi
    tps[$s,$c]="$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out" | head -1)"
    if [ -z "${tps[$s,$c]}" ]; then
        echo "$out" >&2
        echo "bench/run.sh: no tps in pgbench's output ($s, $c clients)" >&2
        exit 1
    fi
    failed="$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out" | head -1)"
    # Per-transaction log lines: client_id transaction_no time script_no
    # time_epoch time_us; "time" is the latency in microseconds (or
    # "failed" / "skipped"). Nearest-rank percentiles.
    local l50 l99
    read -r l50 l99 < <(
        cat "$prefix".* | awk '$3 ~ /^[0-9]+$/ { print $3 }' | sort -n |
        awk '{ a[NR] = $1 }
             function pct(p,   i) { i = int(p * NR); if (i < p * NR) i++; if (i < 1) i = 1; return a[i] }
             END { if (NR == 0) print "n/a n/a"; else print pct(0.50), pct(0.99) }')
    p50[$s,$c]="$l50"
    p99[$s,$c]="$l99"
    rm -f "$prefix".*
    printf '  %-15s %3s clients %9.0f tx/s   p50 %7s us   p99 %7s us%s\n' \
        "$s" "$c" "${tps[$s,$c]}" "${p50[$s,$c]}" "${p99[$s,$c]}" \
        "$([ "${failed:-0}" = 0 ] || echo "   ($failed failed transactions)")"
}

echo "pg_allot benchmark: ${seconds} s per run; durable commits (fsync, synchronous_commit,"
echo "full_page_writes on); shared_preload_libraries = 'pg_allot'; max_connections = $max_connections;"
echo "$(q 'SHOW server_version') server, $(nproc) CPUs; pgbench -M prepared, -j 2 above 1 client;"
echo "a CHECKPOINT before every run"
echo
echo "runs (tx/s; latency per transaction)"
for c in $clients_list; do
    run insert "$c"
    run event_row "$c"
    for s in $scenarios; do
        run "redeem_$s" "$c"
        run "naive_$s" "$c"
    done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo
echo "redeem() against the baselines, same cluster, same run, same client count"
printf '  %-8s %7s %10s %8s %8s %10s %10s %9s %9s\n' \
    scenario clients "redeem/s" "p50 us" "p99 us" "INSERT/s" "naive/s" "/INSERT" "/naive"
for s in $scenarios; do
    for c in $clients_list; do
        printf '  %-8s %7s %10.0f %8s %8s %10.0f %10.0f %8sx %8sx\n' "$s" "$c" \
            "${tps[redeem_$s,$c]}" "${p50[redeem_$s,$c]}" "${p99[redeem_$s,$c]}" \
            "${tps[insert,$c]}" "${tps[naive_$s,$c]}" \
            "$(ratio "${tps[redeem_$s,$c]}" "${tps[insert,$c]}")" \
            "$(ratio "${tps[redeem_$s,$c]}" "${tps[naive_$s,$c]}")"
    done
done

echo
echo "the audit row alone (event_row: the INSERT ... ON CONFLICT a grant runs, into a copy"
echo "of allot.events and its indexes, no pg_allot code), and redeem() against it"
printf '  %7s %12s %9s   %s\n' clients "event_row/s" "/INSERT" "redeem / event_row: $scenarios"
for c in $clients_list; do
    per_scenario=""
    for s in $scenarios; do
        per_scenario="$per_scenario $(ratio "${tps[redeem_$s,$c]}" "${tps[event_row,$c]}")x"
    done
    printf '  %7s %12.0f %8sx  %s\n' "$c" "${tps[event_row,$c]}" \
        "$(ratio "${tps[event_row,$c]}" "${tps[insert,$c]}")" "$per_scenario"
done

# ---------------------------------------------------------------- targets
has_clients() { case " $clients_list " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
verdict() {  # ok-expression (awk) -> PASS / MISS
    awk "BEGIN { print ($1) ? \"PASS\" : \"MISS\" }"
}
target_tps() {  # label scenario clients baseline-run factor
    local label="$1" s="$2" c="$3" base="$4" f="$5"
    if ! has_clients "$c"; then
        printf '  %-48s n/a   (%s clients not in BENCH_CLIENTS)\n' "$label" "$c"
        return
    fi
    local r="${tps[redeem_$s,$c]}" b="${tps[$base,$c]}"
    printf '  %-48s %s  %sx  (redeem %.0f tx/s, %s %.0f tx/s)\n' "$label" \
        "$(verdict "$b > 0 && $r >= $f * $b")" "$(ratio "$r" "$b")" "$r" "$base" "$b"
}
target_p99() {  # label clients
    local label="$1" c="$2"
    if ! has_clients "$c"; then
        printf '  %-48s n/a   (%s clients not in BENCH_CLIENTS)\n' "$label" "$c"
        return
    fi
    local h="${p99[redeem_hot,$c]}" u="${p99[redeem_uniform,$c]}"
    if [ "$h" = n/a ] || [ "$u" = n/a ]; then
        printf '  %-48s n/a   (no latencies logged)\n' "$label"
        return
    fi
    printf '  %-48s %s  %sx  (hot p99 %s us, uniform p99 %s us)\n' "$label" \
        "$(verdict "$u > 0 && $h <= 2 * $u")" "$(ratio "$h" "$u")" "$h" "$u"
}
echo
echo "targets (reported, not asserted)"
target_tps "flash, 64 clients: redeem >= 0.75x bare INSERT" flash 64 insert 0.75
target_tps "flash, 64 clients: redeem >= 10x naive" flash 64 naive_flash 10
target_tps "zipf, 64 clients: redeem >= 0.8x bare INSERT" zipf 64 insert 0.8
target_p99 "hot p99 <= 2x uniform p99, 64 clients" 64
target_p99 "hot p99 <= 2x uniform p99, 16 clients" 16
if has_clients 64; then
    printf '  %-48s %sx  (event_row %.0f tx/s, insert %.0f tx/s)\n' \
        "for scale: the audit row alone, 64 clients" \
        "$(ratio "${tps[event_row,64]}" "${tps[insert,64]}")" "${tps[event_row,64]}" "${tps[insert,64]}"
fi

# ---------------------------------------------------------------- batches
# allot.redeem_many with 100 requests per call (allot-bench), with two key
# choices over 100k vouchers, 1M users and 10k shops (the limits of
# setup.sql): zipf (each key Zipf(1.1), as the zipf scenario above) and
# uniform (every key equally likely: the working set is far larger than
# allot.max_keys, so most keys take the slow path). Against a 100-row
# INSERT transaction. Rates are rows or redemptions per second.
echo
echo "batches: redeem_many of 100 (allot-bench --batch 100) vs a 100-row INSERT transaction;"
echo "event_rows100: the INSERT of a batch's 100 audit rows alone (no pg_allot code)"
batch_scenarios="zipf uniform"
declare -A rows
for c in $batch_clients_list; do
    for base in insert100 event_rows100; do
        q CHECKPOINT
        if ! out="$(pgbench -n -M prepared -T "$seconds" -c "$c" -j "$(( c < 2 ? 1 : 2 ))" \
                    -f "$here/pgbench/$base.sql" 2>&1)"; then
            echo "$out" >&2
            echo "bench/run.sh: pgbench $base at $c clients failed" >&2
            exit 1
        fi
        rows[$base,$c]="$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out" | awk 'NR == 1 { print $1 * 100 }')"
        printf '  %-22s %3s clients %9.0f rows/s%s\n' "$base" "$c" "${rows[$base,$c]}" \
            "$([ "$base" = insert100 ] || echo "   $(ratio "${rows[$base,$c]}" "${rows[insert100,$c]}")x a 100-row INSERT transaction")"
    done
    for b in $batch_scenarios; do
        q CHECKPOINT
        "$allot_bench" --quiet --scenario "$b" --batch 100 --threads "$c" --duration "$seconds" \
            --json "$dir/batch_${b}_$c.json" >"$dir/batch_${b}_$c.txt" || { cat "$dir/batch_${b}_$c.txt"; exit 1; }
        rows[batch100_$b,$c]="$(sed -n 's/.*"redemptions_per_s": *\([0-9.]*\).*/\1/p' "$dir/batch_${b}_$c.json" | head -1)"
        printf '  %-22s %3s clients %9.0f redemptions/s   %sx a 100-row INSERT transaction (per row)\n' \
            "redeem_many100 $b" "$c" "${rows[batch100_$b,$c]}" \
            "$(ratio "${rows[batch100_$b,$c]}" "${rows[insert100,$c]}")"
    done
done
echo
echo "batch target (reported, not asserted): redeem_many of 100 >= 90000 redemptions/s"
for b in $batch_scenarios; do
    for c in $batch_clients_list; do
        printf '  %-48s %s  (%.0f redemptions/s; the 100 audit rows alone: %.0f rows/s)\n' \
            "$b keys, $c clients" "$(verdict "${rows[batch100_$b,$c]} >= 90000")" \
            "${rows[batch100_$b,$c]}" "${rows[event_rows100,$c]}"
    done
done

# ---------------------------------------------------------------- Redis + Lua
# The usual multi-key sliding-window limiter (one EVALSHA over the same 3
# keys per redemption, limits per 60 s window) driven by the same load
# generator and key choice as allot.redeem, when redis-server is installed
# and allot-bench has hiredis. Both sides: allot-bench --scenario uniform
# (100k vouchers, 1M users, 10k shops), one call per redemption.
redis_skip=""
if ! command -v redis-server >/dev/null 2>&1; then
    redis_skip="redis-server is not on PATH (it is optional: apt-get install redis-server)"
elif ! "$allot_bench" --backends 2>/dev/null | grep -qx redis; then
    redis_skip="allot-bench was built without hiredis (install libhiredis-dev, then rerun)"
fi
if [ -z "$redis_skip" ]; then
    redis_port=""
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        p=$((58000 + RANDOM % 1000))
        [ "$p" = "$port" ] && continue
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
    echo "Redis + Lua rows skipped: $redis_skip"
else
    echo "Redis + Lua (not durable, not transactional, no audit log)"
    echo "  3 keys, uniform: allot-bench --scenario uniform, one call per redemption;"
    echo "  pg: allot.redeem, durable commits; redis: one EVALSHA, ZSET per key, 60 s sliding window"
    declare -A cmp
    for c in $batch_clients_list; do
        for b in pg redis; do
            if [ "$b" = pg ]; then
                q CHECKPOINT
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
            printf '  %-15s %3s clients %9.0f redemptions/s   p50 %7s us   p99 %7s us\n' \
                "$b" "$c" "${cmp[$b,$c,rate]}" "${cmp[$b,$c,p50]}" "${cmp[$b,$c,p99]}"
        done
    done
    for c in $batch_clients_list; do
        printf '  %-15s %3s clients %sx redis throughput, p50 %sx, p99 %sx\n' "pg / redis" "$c" \
            "$(ratio "${cmp[pg,$c,rate]}" "${cmp[redis,$c,rate]}")" \
            "$(ratio "${cmp[pg,$c,p50]}" "${cmp[redis,$c,p50]}")" \
            "$(ratio "${cmp[pg,$c,p99]}" "${cmp[redis,$c,p99]}")"
    done
fi

# ---------------------------------------------------------------- idle cost
# The rollup worker of an idle server, with the key table as the runs left
# it: CPU time it used over 10 s (utime + stime from /proc), as a share of
# one core. Nothing is asserted; a worker that reads the whole key table on
# every rollup (ten times a second) shows here.
worker_pid="$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_allot rollup' AND datname = current_database()")"
if [ -n "$worker_pid" ] && [ -r "/proc/$worker_pid/stat" ]; then
    cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
    sleep 2
    t0="$(cpu_ticks "$worker_pid")"
    sleep 10
    t1="$(cpu_ticks "$worker_pid")"
    echo
    printf 'idle rollup worker, %s keys in the shared table: %.1f%% of one core over 10 s\n' \
        "$(q "SELECT shared_keys_used FROM allot.stats")" \
        "$(awk -v d="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" 'BEGIN { print d * 100 / hz / 10 }')"
fi

# ---------------------------------------------------------------- the server
# What the whole run left behind: the decision counters, and whether it
# admitted more than a limit allows (verify() compares every counter with
# the audit log; violations lists windows over their max).
echo
echo "server after all runs"
echo "  SELECT * FROM allot.rollup():"
psql -X -v ON_ERROR_STOP=1 -P pager=off -P footer=off -c "SELECT * FROM allot.rollup()" | sed '/^$/d; s/^/    /'
echo "  SELECT * FROM allot.stats:"
psql -X -v ON_ERROR_STOP=1 -P pager=off -P footer=off -x -c "SELECT * FROM allot.stats" | grep -v "^-\[ RECORD" | sed '/^$/d; s/^/    /'
verify_rows="$(q "SELECT count(*) FROM allot.verify()")"
violations="$(q "SELECT count(*) FROM allot.violations")"
echo "  allot.verify() rows after allot.rollup(): $verify_rows"
echo "  allot.violations rows: $violations"
if [ "$verify_rows" != 0 ] || [ "$violations" != 0 ]; then
    [ "$verify_rows" = 0 ] || psql -X -P pager=off -c "SELECT * FROM allot.verify() LIMIT 10" | sed 's/^/    /'
    [ "$violations" = 0 ] || psql -X -P pager=off -c "SELECT * FROM allot.violations LIMIT 10" | sed 's/^/    /'
    echo "result: UNSOUND: the run over-admitted or its counters disagree with the log"
else
    echo "result: sound (verify() empty, no violations)"
fi
