#!/usr/bin/env bash
# Rollup workers and the slots of max_worker_processes (default 8, shared
# with parallel query; the launcher holds one).
#
#   1. Idle workers give their slot back: with allot.worker_idle_exit = 2s,
#      the workers of 9 databases that redeemed once all exit. (They never
#      did: 7 databases with pg_allot took every slot for good.)
#   2. A grant brings the worker back: one more redemption in each of the 9
#      databases, and the log of every one is folded with nobody calling
#      allot.rollup() -- more databases than slots, taking turns.
#   3. No free slot: with allot.worker_idle_exit = 0 the 9 workers stay, the
#      launcher logs "no free background worker slot" for the databases left
#      without one, and a new database still redeems (its first redemption
#      folds the log itself instead of waiting 5 s for a worker that is not
#      coming; the time is printed, not checked) and its grants fold with
#      allot.rollup() by hand.
#
# Without the preload there is no launcher and no worker: the script then
# checks only that the redemptions work in every database.
#
# Env: PGHOST/PGPORT/PGUSER and ALLOT_CLUSTER_DIR (a cluster made by
# tests/harness/cluster.sh: its log is ALLOT_CLUSTER_DIR/log). The script
# changes allot.worker_idle_exit with ALTER SYSTEM and resets it at exit.
# Exit 0 = pass.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../harness/lib.sh"
ensure_cluster

MAINT="${PGDATABASE:-postgres}"
LOG="$(server_log)"
preload="$(server_preloaded "$MAINT")"
N=9
echo "worker_slots: server ${PGHOST}:${PGPORT}, preload=$preload," \
     "max_worker_processes=$(q -d "$MAINT" -c 'SHOW max_worker_processes'), $N databases"

db_name() { echo "allot_slots_$1"; }
set_idle_exit() {
    q -d "$MAINT" -c "ALTER SYSTEM SET allot.worker_idle_exit = '$1'" -c 'SELECT pg_reload_conf()' >/dev/null
    sleep 0.5  # the launcher and the workers read the file at their next wake-up
}
drop_all() {
    local i
    for i in $(seq 1 $((N + 1))); do
        q -d "$MAINT" -c 'SET client_min_messages = warning' \
          -c "DROP DATABASE IF EXISTS $(db_name "$i") WITH (FORCE)" >/dev/null
    done
}
add_cleanup 'drop_all'
redeem_path() {  # DB: one redemption; prints its path
    q -d "$1" -c "SELECT coalesce(path, 'denied') FROM allot.redeem(gen_random_uuid(), ARRAY['voucher:V1'])"
}
workers_of_ours() {
    q -d "$MAINT" -c "SELECT count(*) FROM pg_stat_activity
                       WHERE backend_type = 'pg_allot rollup' AND datname LIKE 'allot\_slots\_%'"
}
unfolded_total() {
    local i total=0 n
    for i in $(seq 1 "$N"); do
        n="$(q -d "$(db_name "$i")" -c 'SELECT count(*) FROM allot.unfolded')"
        total=$((total + n))
    done
    echo "$total"
}
# wait_for CMD WANT SECONDS: polls CMD until it prints WANT or SECONDS pass;
# prints what it printed last.
wait_for() {
    local got deadline=$((SECONDS + $3))
    while :; do
        got="$($1)"
        [ "$got" = "$2" ] || [ "$SECONDS" -ge "$deadline" ] && { echo "$got"; return 0; }
        sleep 0.2
    done
}

drop_all
if [ "$preload" = 1 ]; then
    add_cleanup "q -d '$MAINT' -c 'ALTER SYSTEM RESET allot.worker_idle_exit' -c 'SELECT pg_reload_conf()' >/dev/null"
    set_idle_exit 2s
fi

echo
echo "== 1. $N databases redeem once; idle workers give their slots back"
paths=""
for i in $(seq 1 "$N"); do
    db="$(db_name "$i")"
    q -d "$MAINT" -c "CREATE DATABASE $db" >/dev/null
    q -d "$db" -c 'CREATE EXTENSION pg_allot' -c "SELECT allot.set_limit('voucher:*', 10)" >/dev/null
    paths+="$(redeem_path "$db") "
done
echo "  paths: $paths"
want_path=slow
[ "$preload" = 1 ] && want_path=fast
check "1: first redemptions granted on the $want_path path" "$(grep -o "$want_path" <<<"$paths" | wc -l)" "$N"
if [ "$preload" = 1 ]; then
    check "1: rollup workers of these databases after 2 s idle (waited up to 30 s)" \
          "$(wait_for workers_of_ours 0 30)" 0
fi

echo
echo "== 2. one more redemption each: the workers come back and fold"
paths=""
for i in $(seq 1 "$N"); do paths+="$(redeem_path "$(db_name "$i")") "; done
echo "  paths: $paths"
check "2: second redemptions granted on the $want_path path" "$(grep -o "$want_path" <<<"$paths" | wc -l)" "$N"
if [ "$preload" = 1 ]; then
    check "2: unfolded grants left, no rollup() by hand (waited up to 60 s)" "$(wait_for unfolded_total 0 60)" 0
    check "2: and the workers went idle again (waited up to 30 s)" "$(wait_for workers_of_ours 0 30)" 0
fi

if [ "$preload" = 1 ]; then
    echo
    echo "== 3. workers never exit: more databases than free slots"
    set_idle_exit 0
    off="$(stat -c %s "$LOG")"
    for i in $(seq 1 "$N"); do redeem_path "$(db_name "$i")" >/dev/null; done
    running="$(wait_for workers_of_ours "$N" 5)"
    slots="$(q -d "$MAINT" -c 'SHOW max_worker_processes')"
    echo "  workers running for our $N databases: $running (max_worker_processes $slots)"
    warnings() { tail -c +"$((off + 1))" "$LOG" | grep -c 'no free background worker slot' || true; }
    if [ "$running" -lt "$N" ]; then
        check "3: launcher warned of no free slot (waited up to 5 s)" "$(wait_for warnings 1 5)" 1 -ge
    else
        echo "  (every database got a worker: max_worker_processes is large enough here; no warning expected)"
    fi
    db="$(db_name $((N + 1)))"
    q -d "$MAINT" -c "CREATE DATABASE $db" >/dev/null
    q -d "$db" -c 'CREATE EXTENSION pg_allot' -c "SELECT allot.set_limit('voucher:*', 10)" >/dev/null
    t0="$(date +%s%N)"
    path="$(redeem_path "$db")"
    echo "  first redemption in a new database: path $path, $((($(date +%s%N) - t0) / 1000000)) ms"
    check "3: a new database still redeems on the fast path" "$([ "$path" = fast ] && echo 1 || echo 0)" 1
    q -d "$db" -c 'SELECT * FROM allot.rollup()' >/dev/null
    check "3: its grant folded by allot.rollup() by hand" \
          "$(q -d "$db" -c "SELECT coalesce(sum(used), 0) FROM allot.counters WHERE key = 'voucher:V1'")" 1
    check "3: rows of allot.verify() there" "$(q -d "$db" -c 'SELECT count(*) FROM allot.verify()')" 0
fi

for i in $(seq 1 "$N"); do
    db="$(db_name "$i")"
    check "rows of allot.verify() in $db" "$(q -d "$db" -c 'SELECT count(*) FROM allot.verify()')" 0
done

if [ "$CHECK_FAILS" -ne 0 ]; then
    echo "FAIL: worker_slots ($CHECK_FAILS checks failed)"
    exit 1
fi
echo "PASS: worker_slots"
