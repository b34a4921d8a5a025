#!/usr/bin/env bash
# A flash mob on one fast key (invariants 1 and 5 on the fast path, and
# across path changes):
#
#   limits: voucher:MOB 5000 in total; user:* 5 per '1 day' (fixed);
#           shop:* 100000 per '1 hour' (fixed) -- no sliding window, so every
#           key may take the fast path
#   64 real concurrent pgbench clients (-j 2), 313 attempts each (20032 in
#   all), every attempt
#       allot.redeem(gen_random_uuid(),
#                    ARRAY['voucher:MOB', 'user:U<1..100000>', 'shop:S<1..1000>'])
#
# Two phases, each in its own database:
#   a. plain: the mob as it comes;
#   b. the same, while a second session flips the key's path every
#      100-200 ms with allot.set_path('voucher:MOB', 'slow' / 'fast') (takes
#      effect at commit). Without shared_preload_libraries there is no fast
#      path: set_path(key, 'fast') must fail with SQLSTATE 55000, so the
#      flipper only calls set_path(key, 'slow').
#
# Checks, per phase: exactly 5000 grant events for voucher:MOB from 5000
# distinct txns, every grant names voucher:MOB, allot.usage counts 5000 for
# it, and after SELECT * FROM allot.rollup() (which folds fast grants into
# the counters) allot.verify() and allot.violations are empty. With the
# preload also: phase a made at least one grant on the fast path; phase b
# made grants on both paths, and the flipper changed the path (successful
# set_path calls > 0, some of them while grants were still being made).
#
# Needs max_connections >= CLIENTS + 6 (tests/harness/cluster.sh sets 300).
# A phase whose pgbench run takes longer than PHASE_TIMEOUT seconds (default
# 120; 10-40 s is usual) fails, and so does any statement taking longer
# than 60 s: stuck clients end the test instead of hanging it.
#
# Env: as hammer_one_key.sh (PGHOST/PGPORT/PGUSER and PGDATABASE, the
# maintenance database; without PGHOST/PGPORT it starts its own throwaway
# cluster with the preload). CLIENTS, ATTEMPTS, LIMIT, PHASE_TIMEOUT override
# the defaults.
# Exit 0 = pass. The test databases are dropped on success and kept on
# failure.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../harness/lib.sh"
ensure_cluster

CLIENTS="${CLIENTS:-64}"
ATTEMPTS="${ATTEMPTS:-20000}"
LIMIT="${LIMIT:-5000}"
PHASE_TIMEOUT="${PHASE_TIMEOUT:-120}"
TXNS=$(((ATTEMPTS + CLIENTS - 1) / CLIENTS))
USERS=100000
SHOPS=1000
KEY='voucher:MOB'
DB_PREFIX=allot_flash_mob
MAINT="${PGDATABASE:-postgres}"
export PGOPTIONS="${PGOPTIONS:-} -c statement_timeout=60s"

preload_libs="$(q -d "$MAINT" -c 'SHOW shared_preload_libraries')"
if [[ ",${preload_libs// /}," == *,pg_allot,* ]]; then PRELOAD=1; else PRELOAD=0; fi
echo "flash_mob: server ${PGHOST}:${PGPORT}, shared_preload_libraries='$preload_libs'" \
     "(fast path expected: $([ "$PRELOAD" = 1 ] && echo yes || echo no))"

need_conn=$((CLIENTS + 6))
max_conn="$(q -d "$MAINT" -c 'SHOW max_connections')"
if [ "$max_conn" -lt "$need_conn" ]; then
    echo "FAIL: flash_mob needs max_connections >= $need_conn ($CLIENTS pgbench clients, the" \
         "path flipper, the checks, the rollup worker), the server has $max_conn."
    echo "      tests/harness/cluster.sh start writes max_connections = 300 into the clusters it" \
         "makes (run_all.sh starts its clusters with it); for a cluster made otherwise set" \
         "max_connections >= $need_conn in postgresql.conf (or pass -c max_connections=$need_conn" \
         "to cluster.sh start) and restart it."
    exit 1
fi

work="$(mktemp -d)"
add_cleanup "rm -rf '$work'"

# The key literals come in as pgbench variables: pgbench would take the
# ":MOB" of a literal 'voucher:MOB' in the script for a variable reference.
cat >"$work/redeem.sql" <<EOF
\\set u random(1, $USERS)
\\set s random(1, $SHOPS)
SELECT granted FROM allot.redeem(gen_random_uuid(), ARRAY[CAST(:mob_key AS text), CAST(:user_prefix AS text) || :u, CAST(:shop_prefix AS text) || :s]);
EOF

make_db() {
    local db="$1"
    # WITH (FORCE): sessions left behind (clients of a killed or timed-out run,
    # a rollup worker) must not keep the database from being dropped.
    q -d "$MAINT" -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
    q -d "$db" -c 'CREATE EXTENSION pg_allot' \
      -c "SELECT allot.set_limit('$KEY', $LIMIT)" \
      -c "SELECT allot.set_limit('user:*', 5, '1 day')" \
      -c "SELECT allot.set_limit('shop:*', 100000, '1 hour')" >/dev/null
}

# flipper DB OUT: until $work/stop_flip appears, set_path the key every
# 100-200 ms, alternating slow / fast (slow only without the preload). Each
# successful call appends "<new path> <previous path> <server epoch>" to OUT;
# failures go to OUT.err. A call may wait behind the mob's row locks, but
# not for long: the stop file must end the loop soon.
flipper() {
    local db="$1" out="$2" target=slow res
    : >"$out"
    : >"$out.err"
    while [ ! -e "$work/stop_flip" ]; do
        if res="$(PGOPTIONS="$PGOPTIONS -c statement_timeout=10s" q -d "$db" -F ' ' -c "SELECT allot.set_path('$KEY', '$target'),
                                               extract(epoch FROM clock_timestamp())" 2>>"$out.err")"; then
            echo "$target $res" >>"$out"
        fi
        if [ "$PRELOAD" = 1 ]; then
            if [ "$target" = slow ]; then target=fast; else target=slow; fi
        fi
        sleep "0.1$((RANDOM % 10))"
    done
}

# stats_row: the server-wide allot.stats counters this test reports on.
stats_row() {
    qv "$1" 'SELECT coalesce(grants_fast, 0), coalesce(grants_slow, 0), coalesce(promotions, 0),
                    coalesce(demotions, 0), coalesce(rollups, 0) FROM allot.stats'
}

FAILED_DBS=()

# phase NAME DB FLIP
phase() {
    local name="$1" db="$2" flip="$3" fails_before="$CHECK_FAILS" flip_pid="" pgbench_ok=1
    echo
    echo "== phase $name: $db, $CLIENTS clients, $KEY max $LIMIT$([ "$flip" = 1 ] && echo ', path flipped during the run')"
    make_db "$db"

    if [ "$flip" = 1 ] && [ "$PRELOAD" = 0 ]; then
        # API.md / the fast-path contract: without the preload there is no
        # fast path to force a key onto.
        local err
        if q -d "$db" -v VERBOSITY=verbose -c "SELECT allot.set_path('$KEY', 'fast')" \
            >/dev/null 2>"$work/setpath_fast.err"; then
            err=none
        else
            err="$(sed -n 's/^ERROR: *\([0-9A-Z]\{5\}\):.*/\1/p' "$work/setpath_fast.err" | head -n 1)"
        fi
        echo "set_path('$KEY', 'fast') without the preload: SQLSTATE ${err:-?} ($(head -n 1 "$work/setpath_fast.err"))"
        check "$name: set_path(fast) without preload fails with 55000" "$([ "$err" = 55000 ] && echo 1 || echo 0)" 1
        echo "no preload: the flipper only calls set_path('$KEY', 'slow')"
    fi

    local stats_before=""
    [ "$PRELOAD" = 1 ] && stats_before="$(stats_row "$db")"

    rm -f "$work/stop_flip"
    if [ "$flip" = 1 ]; then
        flipper "$db" "$work/flips.$name" &
        flip_pid=$!
    fi
    local t0=$SECONDS
    PGBENCH_THREADS=2 PGBENCH_TIMEOUT="$PHASE_TIMEOUT" pgbench_run "$db" "$CLIENTS" "$TXNS" "$work/redeem.sql" \
        -D "mob_key=$KEY" -D "user_prefix=user:U" -D "shop_prefix=shop:S" || pgbench_ok=0
    local secs=$((SECONDS - t0))
    if [ -n "$flip_pid" ]; then
        touch "$work/stop_flip"
        wait "$flip_pid" || true
    fi
    check "$name: pgbench completed every attempt cleanly" "$pgbench_ok" 1
    if [ "$pgbench_ok" = 0 ]; then
        echo "the key as the server sees it:"
        q -d "$db" -P tuples_only=off -P footer=off -F ' | ' \
          -c "SELECT * FROM allot.entities WHERE key = '$KEY'" | sed 's/^/  /' || true
        if [ -n "$(q -d "$db" -c "SELECT to_regproc('allot._shared_keys')" 2>/dev/null)" ]; then
            q -d "$db" -P tuples_only=off -P footer=off -F ' | ' \
              -c "SELECT key, state, holders, meters FROM allot._shared_keys() WHERE key = '$KEY'" \
                | sed 's/^/  shared memory: /' || true
        fi
    fi

    # Fast grants reach the counters through a rollup (without the preload
    # nothing else runs it).
    q -d "$db" -c 'SELECT * FROM allot.rollup()' >/dev/null

    local grants distinct_txns fast slow denials reversals all_grants used verify_rows violations
    read -r grants distinct_txns fast slow denials reversals <<<"$(qv "$db" "
        SELECT count(*) FILTER (WHERE kind = 'grant'),
               count(DISTINCT txn) FILTER (WHERE kind = 'grant'),
               count(*) FILTER (WHERE kind = 'grant' AND path = 'fast'),
               count(*) FILTER (WHERE kind = 'grant' AND path = 'slow'),
               count(*) FILTER (WHERE kind = 'deny'),
               count(*) FILTER (WHERE kind = 'reverse')
          FROM allot.events WHERE '$KEY' = ANY(keys)")"
    all_grants="$(qv "$db" "SELECT count(*) FROM allot.events WHERE kind = 'grant'")"
    used="$(qv "$db" "SELECT coalesce(sum(used), 0) FROM allot.usage WHERE key = '$KEY'")"
    verify_rows="$(qv "$db" 'SELECT count(*) FROM allot.verify()')"
    violations="$(qv "$db" 'SELECT count(*) FROM allot.violations')"

    echo "measured: ${secs}s attempts=$((CLIENTS * TXNS)) grants=$grants (fast=$fast slow=$slow)" \
         "distinct_granted_txns=$distinct_txns denials_logged=$denials reversals=$reversals" \
         "grants_any_key=$all_grants usage.used=$used verify_rows=$verify_rows violations=$violations"

    local flips=0 flip_fails=0 real_changes=0 flips_during=0
    if [ "$flip" = 1 ]; then
        local f="$work/flips.$name"
        flips="$(wc -l <"$f")"
        flip_fails="$(grep -c '^ERROR' "$f.err" || true)"
        real_changes="$(awk '$1 != $2' "$f" | wc -l)"
        if [ "$flips" -gt 0 ]; then
            # set_path calls made while the key was still granting (between its
            # first and its last grant): the flips the mob actually ran into.
            q -d "$db" -c 'CREATE TABLE allot_test_flips (path text, prev text, at numeric)' \
              -c "\\copy allot_test_flips FROM '$f' WITH (DELIMITER ' ')" >/dev/null
            flips_during="$(qv "$db" "
                SELECT count(*) FROM allot_test_flips f,
                       (SELECT min(at) AS lo, max(at) AS hi FROM allot.events
                         WHERE kind = 'grant' AND '$KEY' = ANY(keys)) g
                 WHERE f.at BETWEEN extract(epoch FROM g.lo) AND extract(epoch FROM g.hi)")"
        fi
        echo "flipper: set_path calls ok=$flips (changing the path: $real_changes," \
             "while $KEY was granting: $flips_during) failed=$flip_fails"
        if [ "$flip_fails" -gt 0 ]; then
            echo "  first failure: $(grep -m 1 '^ERROR' "$f.err")"
        fi
    fi
    if [ "$PRELOAD" = 1 ]; then
        local stats_after
        stats_after="$(stats_row "$db")"
        echo "allot.stats during the phase (server-wide):" "$(awk -v b="$stats_before" -v a="$stats_after" 'BEGIN {
            split(b, x, " "); split(a, y, " ");
            printf "grants_fast +%d grants_slow +%d promotions +%d demotions +%d rollups +%d",
                   y[1]-x[1], y[2]-x[2], y[3]-x[3], y[4]-x[4], y[5]-x[5] }')"
    fi

    check "$name: grant events for $KEY" "$grants" "$LIMIT"
    check "$name: distinct txns among those grants" "$distinct_txns" "$LIMIT"
    check "$name: grant events of any key (all name $KEY)" "$all_grants" "$grants"
    check "$name: reverse events" "$reversals" 0
    check "$name: allot.usage used for $KEY" "$used" "$LIMIT"
    check "$name: rows of allot.verify() after rollup" "$verify_rows" 0
    check "$name: rows of allot.violations" "$violations" 0
    if [ "$flip" = 1 ]; then
        check "$name: successful set_path calls by the flipper" "$flips" 1 -ge
    fi
    if [ "$PRELOAD" = 1 ]; then
        check "$name: grants on the fast path" "$fast" 1 -ge
        if [ "$flip" = 1 ]; then
            check "$name: grants on the slow path" "$slow" 1 -ge
            check "$name: set_path calls while $KEY was granting" "$flips_during" 1 -ge
        fi
    fi

    if [ "$CHECK_FAILS" -gt "$fails_before" ]; then
        show_failure_details "$db" "key = '$KEY' OR used > max"
        FAILED_DBS+=("$db")
    else
        q -d "$MAINT" -c "DROP DATABASE $db WITH (FORCE)"
    fi
}

phase a "${DB_PREFIX}_a" 0
phase b "${DB_PREFIX}_b" 1

echo
if [ "$CHECK_FAILS" -gt 0 ]; then
    echo "FAIL: flash_mob: $CHECK_FAILS check(s) failed (database(s) ${FAILED_DBS[*]} kept)"
    exit 1
fi
echo "PASS: flash_mob"
