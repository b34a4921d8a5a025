#!/usr/bin/env bash
# Crash safety of the fast path (DESIGN.md invariants 1, 2, 4, 5) with real
# kill -9 under load: shared memory is a cache of the truth, so a crash may
# lose it but never a committed grant, never count one twice, never admit
# more than a limit allows.
#
#   limits: voucher:FAST 3000 in total; user:* 3 per '1 day' (fixed);
#           shop:* 1000 per '1 hour' (fixed) -- no sliding window, so every
#           key may take the fast path
#   8 clients redeem {voucher:FAST, user:U<0..19999>, shop:S<0..49>}, each in
#   psql sessions of 10 redemptions (autocommit). A client records every txn
#   whose redeem returned granted = t (its COMMIT is done before psql sees
#   the result) and, when a session breaks, the one txn whose outcome it did
#   not see ("in doubt").
#
# Sequence: paced load (~70 redemptions/s, so voucher:FAST keeps room for
# after the restart) for ~2 s; kill -9 a client backend (preferably one in
# the middle of allot.redeem; PostgreSQL then resets every backend and
# recovers); load; kill -9 the pg_allot rollup worker of the test database
# (without the preload there is none: that kill is skipped); load; kill -9
# the postmaster and start the cluster again (tests/harness/cluster.sh
# restart); paced load for ~2 s; then full-speed load until voucher:FAST is
# spent (so an over-admission would show), and a second more. While the
# script waits for the rollup worker to appear, the clients hold off (so
# the wait does not eat voucher:FAST's budget).
#
# Afterwards:
#   - every grant a client saw committed is in allot.txns and is exactly one
#     grant event, on the path its decision named;
#   - each in-doubt txn, redeemed again with the same keys, is either a
#     replay (it had committed) or decided afresh (it had not); no txn has
#     two grant events;
#   - voucher:FAST has exactly 3000 grant events (reached, never exceeded);
#     after SELECT * FROM allot.rollup() allot.usage counts them,
#     allot.verify() and allot.violations are empty;
#   - with the preload: some grants took the fast path, and some fast grants
#     came after the postmaster restart (events whose seq is above every seq
#     logged before it): shared memory was rebuilt; the rollup worker of the
#     database runs again at the end.
#
# Env: as the other scripts here; ALLOT_CLUSTER_DIR names the cluster it may
# kill and restart (run_all.sh sets it; without PGHOST/PGPORT a throwaway
# cluster is started). CLIENTS, LIMIT, PAUSE (seconds between a client's
# paced redemptions) override the defaults. Exit 0 = pass. The test
# database is dropped on success and kept on failure.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../harness/lib.sh"
ensure_cluster
[ -n "${ALLOT_CLUSTER_DIR:-}" ] || die "crash_fast_path needs ALLOT_CLUSTER_DIR (a cluster it may kill)"

CLIENTS="${CLIENTS:-8}"
LIMIT="${LIMIT:-3000}"
PAUSE="${PAUSE:-0.1}"
BATCH=10
USERS=20000
SHOPS=50
FULL_SPEED_MAX=30      # seconds the last phase may take to spend voucher:FAST
KEY='voucher:FAST'
DB=allot_crash_fast_path
MAINT="${PGDATABASE:-postgres}"
# A stuck statement fails the test instead of hanging it (clients: 15 s).
export PGOPTIONS="${PGOPTIONS:-} -c statement_timeout=60s"
work="$(mktemp -d)"
add_cleanup "rm -rf '$work'"

preload_libs="$(q -d "$MAINT" -c 'SHOW shared_preload_libraries')"
if [[ ",${preload_libs// /}," == *,pg_allot,* ]]; then PRELOAD=1; else PRELOAD=0; fi
echo "crash_fast_path: cluster $ALLOT_CLUSTER_DIR (${PGHOST}:${PGPORT}), shared_preload_libraries='$preload_libs'" \
     "(fast path expected: $([ "$PRELOAD" = 1 ] && echo yes || echo no))"

# WITH (FORCE): sessions left behind (clients of a killed or timed-out run,
# a rollup worker) must not keep the database from being dropped.
q -d "$MAINT" -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
q -d "$DB" -c 'CREATE EXTENSION pg_allot' \
  -c "SELECT allot.set_limit('$KEY', $LIMIT)" \
  -c "SELECT allot.set_limit('user:*', 3, '1 day')" \
  -c "SELECT allot.set_limit('shop:*', 1000, '1 hour')" >/dev/null

# One client: psql sessions of BATCH redemptions until the stop file
# appears; paced by pg_sleep until the full_speed file appears; none begins
# while the hold file exists.
#   granted.ID   "<txn> <keys literal> <path>" of every grant it saw
#   in_doubt.ID  "<txn> <keys literal>" of the redemption a broken session
#                was in (or about to send: psql stops at the first error)
client() {
    local id="$1" txn keys pace n out rc
    while [ ! -e "$work/stop" ]; do
        if [ -e "$work/hold" ]; then
            sleep 0.05
            continue
        fi
        pace=1
        [ -e "$work/full_speed" ] && pace=0
        : >"$work/batch.$id"
        {
            echo "SELECT 'connected';"
            for ((n = 0; n < BATCH; n++)); do
                read -r txn </proc/sys/kernel/random/uuid
                keys="{$KEY,user:U$((RANDOM % USERS)),shop:S$((RANDOM % SHOPS))}"
                echo "$txn $keys" >>"$work/batch.$id"
                echo "SELECT 'R', '$txn', '$keys', d.granted, d.path FROM allot.redeem('$txn', '$keys') d;"
                [ "$pace" = 1 ] && echo "SELECT pg_sleep($PAUSE);"
            done
        } >"$work/batch.$id.sql"
        out="$(PGOPTIONS="$PGOPTIONS -c statement_timeout=15s" q -d "$DB" -F ' ' -f "$work/batch.$id.sql" 2>"$work/err.$id")" && rc=0 || rc=$?
        awk '$1 == "R" && $4 == "t" { print $2, $3, $5 }' <<<"$out" >>"$work/granted.$id"
        if [ "$rc" != 0 ]; then
            grep -h '^ERROR' "$work/err.$id" >>"$work/errors" || true
            if grep -qx connected <<<"$out"; then
                n="$(grep -c '^R ' <<<"$out" || true)"
                sed -n "$((n + 1))p" "$work/batch.$id" >>"$work/in_doubt.$id"
            fi
            sleep 0.1
        fi
    done
}

wait_until_up() {
    local i
    for i in $(seq 1 150); do
        q -d "$MAINT" -c 'SELECT 1' >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# wait_gone PID: until the killed process has been reaped (so the postmaster
# has seen it die and started its crash recovery).
wait_gone() {
    local i
    for i in $(seq 1 100); do
        [ -e "/proc/$1" ] || return 0
        sleep 0.05
    done
}

voucher_grants() {
    q -d "$DB" -c "SELECT count(*) FROM allot.events WHERE kind = 'grant' AND '$KEY' = ANY(keys)" 2>/dev/null || echo 0
}

kills=0
worker_killed=0
t_start=$SECONDS
pids=()
for i in $(seq 1 "$CLIENTS"); do client "$i" & pids+=($!); done
add_cleanup "touch '$work/stop'; wait ${pids[*]} 2>/dev/null"

sleep 2
read -r victim how < <(pick_client_backend "$MAINT" "$DB"; echo) || true
if [ -n "$victim" ]; then
    echo "$((SECONDS - t_start))s: kill -9 client backend $victim ($how); every backend is reset, the server recovers" \
         "(voucher grants so far: $(voucher_grants))"
    kill -9 "$victim" || true
    wait_gone "$victim"
    wait_until_up || die "server did not come back after a backend was killed"
    kills=$((kills + 1))
else
    echo "no client backend found to kill"
fi

sleep 2
if [ "$PRELOAD" = 1 ]; then
    worker="$(rollup_worker_pid "$MAINT" "$DB" 1)"
    if [ -z "$worker" ]; then
        echo "$((SECONDS - t_start))s: waiting for the pg_allot rollup worker of $DB (clients hold off meanwhile)"
        touch "$work/hold"
        worker="$(rollup_worker_pid "$MAINT" "$DB" 10)"
        rm -f "$work/hold"
        if [ -n "$worker" ]; then
            sleep 1
            worker="$(rollup_worker_pid "$MAINT" "$DB" 5)"
        fi
    fi
    if [ -n "$worker" ]; then
        echo "$((SECONDS - t_start))s: kill -9 the pg_allot rollup worker $worker; every backend is reset, the server recovers" \
             "(voucher grants so far: $(voucher_grants))"
        kill -9 "$worker" || true
        wait_gone "$worker"
        wait_until_up || die "server did not come back after the rollup worker was killed"
        kills=$((kills + 1))
        worker_killed=1
    else
        echo "no 'pg_allot rollup' worker for $DB in pg_stat_activity (with the preload there should be one)"
    fi
    sleep 2
else
    echo "no preload: there is no rollup worker to kill; skipping that kill"
fi

pm="$(head -n 1 "$ALLOT_CLUSTER_DIR/data/postmaster.pid")"
echo "$((SECONDS - t_start))s: kill -9 postmaster $pm, then start the cluster again" \
     "(voucher grants so far: $(voucher_grants))"
kill -9 "$pm"
# The new postmaster refuses to start while the old pid still exists (even
# as a zombie); cluster.sh restart retries, but waiting here is quieter.
for i in $(seq 1 100); do [ -e "/proc/$pm" ] || break; sleep 0.1; done
bash "$ALLOT_HARNESS_DIR/cluster.sh" restart "$ALLOT_CLUSTER_DIR" >/dev/null
wait_until_up || die "server did not come back after the postmaster was killed"
kills=$((kills + 1))
echo "$((SECONDS - t_start))s: server up again (voucher grants so far: $(voucher_grants)); paced load"
sleep 2
echo "$((SECONDS - t_start))s: full-speed load until $KEY is spent (voucher grants so far: $(voucher_grants))"

touch "$work/full_speed"
t_full=$SECONDS
while [ "$(voucher_grants)" -lt "$LIMIT" ] && [ $((SECONDS - t_full)) -lt "$FULL_SPEED_MAX" ]; do
    sleep 0.25
done
sleep 1
touch "$work/stop"
wait "${pids[@]}" || true
echo "$((SECONDS - t_start))s: load stopped (voucher grants: $(voucher_grants))"

cat "$work"/granted.* 2>/dev/null | sort -u >"$work/granted" || true
cat "$work"/in_doubt.* 2>/dev/null | sort -u >"$work/in_doubt" || true
seen="$(wc -l <"$work/granted")"
doubt="$(wc -l <"$work/in_doubt")"
seen_fast="$(awk '$3 == "fast"' "$work/granted" | wc -l)"

# Every grant a client saw committed must be there, once, on its path.
q -d "$DB" -c 'CREATE TABLE allot_test_seen (txn uuid, keys text, path text)' \
  -c "\\copy allot_test_seen FROM '$work/granted' WITH (DELIMITER ' ')" >/dev/null
read -r missing not_once path_differs <<<"$(qv "$DB" "
    SELECT count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM allot.txns t WHERE t.txn = s.txn)
                               OR g.n = 0),
           count(*) FILTER (WHERE g.n <> 1),
           count(*) FILTER (WHERE g.n = 1 AND g.path <> s.path)
      FROM allot_test_seen s,
           LATERAL (SELECT count(*) AS n, min(e.path) AS path FROM allot.events e
                     WHERE e.txn = s.txn AND e.kind = 'grant') g")"

# Redeem each in-doubt txn again with its own keys: a replay if it had
# committed, decided afresh if not.
replayed=0
fresh=0
if [ "$doubt" -gt 0 ]; then
    awk -v q="'" '{ printf "SELECT replayed FROM allot.redeem(%s%s%s, %s%s%s);\n", q, $1, q, q, $2, q }' \
        "$work/in_doubt" >"$work/retry.sql"
    q -d "$DB" -f "$work/retry.sql" >"$work/retry.out" || die "redeeming the in-doubt txns again failed"
    replayed="$(grep -cx t "$work/retry.out" || true)"
    fresh="$(grep -cx f "$work/retry.out" || true)"
fi

q -d "$DB" -c 'SELECT * FROM allot.rollup()' >/dev/null

read -r grants distinct all_grants fast slow <<<"$(qv "$DB" "
    SELECT count(*) FILTER (WHERE '$KEY' = ANY(keys)),
           count(DISTINCT txn),
           count(*),
           count(*) FILTER (WHERE path = 'fast'),
           count(*) FILTER (WHERE path = 'slow')
      FROM allot.events WHERE kind = 'grant'")"
# Events logged before the postmaster restart have seq <= boundary (a
# sequence never hands out after a crash a value it handed out before).
read -r boundary fast_after slow_after <<<"$(qv "$DB" "
    WITH b AS (SELECT coalesce(max(seq), 0) AS seq FROM allot.events
                WHERE at < pg_postmaster_start_time())
    SELECT b.seq,
           count(*) FILTER (WHERE e.kind = 'grant' AND e.path = 'fast' AND e.seq > b.seq),
           count(*) FILTER (WHERE e.kind = 'grant' AND e.path = 'slow' AND e.seq > b.seq)
      FROM b LEFT JOIN allot.events e ON true GROUP BY b.seq")"
used="$(qv "$DB" "SELECT coalesce(sum(used), 0) FROM allot.usage WHERE key = '$KEY'")"
verify_rows="$(qv "$DB" 'SELECT count(*) FROM allot.verify()')"
violations="$(qv "$DB" 'SELECT count(*) FROM allot.violations')"
worker_at_end=0
if [ "$PRELOAD" = 1 ] && [ -n "$(rollup_worker_pid "$MAINT" "$DB" 5)" ]; then worker_at_end=1; fi

echo "measured: kills=$kills grants_seen_by_clients=$seen (fast=$seen_fast) in_doubt=$doubt" \
     "(replayed=$replayed decided_afresh=$fresh) lost=$missing not_exactly_once=$not_once" \
     "path_differs=$path_differs"
echo "          voucher_grants=$grants (limit $LIMIT) all_grants=$all_grants distinct_txns=$distinct" \
     "fast=$fast slow=$slow; after the restart (seq > $boundary): fast=$fast_after slow=$slow_after;" \
     "usage.used=$used verify_rows=$verify_rows violations=$violations"
touch "$work/errors"
echo "          SQL errors seen by clients (other than lost connections): $(wc -l <"$work/errors")"
sed -E 's/^ERROR: +//' "$work/errors" | sort | uniq -c | sort -rn | head -n 3 | sed 's/^/            /'
if [ "$PRELOAD" = 1 ]; then
    echo "          allot.stats: $(q -d "$DB" -F ' ' -c "SELECT 'grants_fast=' || coalesce(grants_fast::text, '-'),
        'grants_slow=' || coalesce(grants_slow::text, '-'), 'replays=' || coalesce(replays::text, '-'),
        'rollups=' || coalesce(rollups::text, '-'), 'shared_keys_used=' || coalesce(shared_keys_used::text, '-')
        FROM allot.stats")"
fi

check "kills survived (backend, worker if found, postmaster)" "$kills" "$((2 + worker_killed))"
check "grants seen by clients (the test did run)" "$seen" 1 -ge
check "grants seen committed but lost" "$missing" 0
check "grants seen committed, not exactly one grant event" "$not_once" 0
check "grants seen committed, event path <> decision path" "$path_differs" 0
check "in-doubt txns retried: replayed + decided afresh" "$((replayed + fresh))" "$doubt"
check "grant events per txn (never twice)" "$distinct" "$all_grants"
check "$KEY grants within its limit" "$grants" "$LIMIT" -le
check "$KEY grants reached its limit (the load spent it)" "$grants" "$LIMIT" -ge
check "$KEY allot.usage used = its grant events" "$used" "$grants"
check "rows of allot.verify() after rollup" "$verify_rows" 0
check "rows of allot.violations" "$violations" 0
if [ "$PRELOAD" = 1 ]; then
    check "rollup worker found and killed" "$worker_killed" 1
    check "grants on the fast path" "$fast" 1 -ge
    check "fast grants after the postmaster restart" "$fast_after" 1 -ge
    check "rollup worker of $DB running at the end" "$worker_at_end" 1
fi

if [ "$CHECK_FAILS" -gt 0 ]; then
    show_failure_details "$DB" "key = '$KEY' OR used > max"
    echo "FAIL: crash_fast_path: $CHECK_FAILS check(s) failed (database $DB kept)"
    exit 1
fi
q -d "$MAINT" -c "DROP DATABASE $DB WITH (FORCE)"
echo "PASS: crash_fast_path"
