#!/usr/bin/env bash
# Crash safety (DESIGN.md invariant 4) with real kill -9, under load:
#
#   8 clients redeem against voucher:CRASH (total 2500), user:* (3 per day)
#   and shop:* (1000 per minute, sliding). Each client records every txn whose
#   redeem returned granted = t (psql exits 0 only after the COMMIT), and
#   every txn whose call failed (its outcome is unknown: "in doubt").
#   While they run we kill -9 one client backend (PostgreSQL then resets
#   every backend and recovers), and later kill -9 the postmaster itself and
#   start the cluster again.
#
# Afterwards:
#   - every grant a client saw committed is in allot.txns and allot.events;
#   - each in-doubt txn, redeemed again with the same keys, is either a
#     replay (it had committed) or decided afresh (it had not) — never
#     counted twice (idempotency across a crash);
#   - no window holds more than its max; allot.verify() is empty.
#
# Env: as the other scripts here; ALLOT_CLUSTER_DIR names the cluster to
# restart (run_all.sh sets it; without it a throwaway cluster is started).
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../harness/lib.sh"
ensure_cluster
[ -n "${ALLOT_CLUSTER_DIR:-}" ] || die "crash_recovery needs ALLOT_CLUSTER_DIR (a cluster it may kill)"

CLIENTS="${CLIENTS:-8}"
LIMIT="${LIMIT:-2500}"
DB=allot_crash_recovery
MAINT="${PGDATABASE:-postgres}"
work="$(mktemp -d)"
add_cleanup "rm -rf '$work'"

# WITH (FORCE): sessions left behind (clients of a killed or timed-out run,
# a rollup worker) must not keep the database from being dropped.
q -d "$MAINT" -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
q -d "$DB" -c 'CREATE EXTENSION pg_allot' \
  -c "SELECT allot.set_limit('voucher:CRASH', $LIMIT)" \
  -c "SELECT allot.set_limit('user:*', 3, '1 day')" \
  -c "SELECT allot.set_limit('shop:*', 1000, '1 minute', sliding => true)" >/dev/null

# One client: redeem until the stop file appears. Lines: "<txn> <keys literal>".
client() {
    local id="$1" txn keys out
    while [ ! -e "$work/stop" ]; do
        txn="$(cat /proc/sys/kernel/random/uuid)"
        keys="{voucher:CRASH,user:U$((RANDOM % 2000)),shop:S$((RANDOM % 10))}"
        if out="$(q -d "$DB" -c "SELECT granted FROM allot.redeem('$txn', '$keys')" 2>/dev/null)"; then
            [ "$out" = t ] && echo "$txn $keys" >>"$work/granted.$id"
        else
            echo "$txn $keys" >>"$work/in_doubt.$id"
            sleep 0.05
        fi
    done
}

# A client backend of the test database. The clients are short-lived psql
# processes, so at a given instant there may be none: look again for a while.
backend_pid() {
    local pid i
    for i in $(seq 1 100); do
        pid="$(q -d "$MAINT" -c "SELECT pid FROM pg_stat_activity WHERE datname = '$DB'
                                   AND pid <> pg_backend_pid() ORDER BY random() LIMIT 1" 2>/dev/null || true)"
        [ -n "$pid" ] && { echo "$pid"; return 0; }
        sleep 0.02
    done
}

wait_until_up() {
    local i
    for i in $(seq 1 100); do
        q -d "$MAINT" -c 'SELECT 1' >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

pids=()
for i in $(seq 1 "$CLIENTS"); do client "$i" & pids+=($!); done

sleep 2
victim="$(backend_pid)"
if [ -n "$victim" ]; then
    echo "kill -9 backend $victim (every backend is reset, the server recovers)"
    kill -9 "$victim" || true
    wait_until_up || die "server did not come back after a backend was killed"
    kills=1
else
    echo "no backend to kill"; kills=0
fi

sleep 2
pm="$(head -n 1 "$ALLOT_CLUSTER_DIR/data/postmaster.pid")"
echo "kill -9 postmaster $pm, then start the cluster again"
kill -9 "$pm"
# The new postmaster refuses to start while the old pid still exists (even
# as a zombie); cluster.sh restart retries, but waiting here is quieter.
for i in $(seq 1 100); do [ -e "/proc/$pm" ] || break; sleep 0.1; done
bash "$ALLOT_HARNESS_DIR/cluster.sh" restart "$ALLOT_CLUSTER_DIR" >/dev/null
wait_until_up || die "server did not come back after the postmaster was killed"
kills=$((kills + 1))

sleep 2
touch "$work/stop"
wait "${pids[@]}" || true

cat "$work"/granted.* 2>/dev/null | sort -u >"$work/granted" || true
cat "$work"/in_doubt.* 2>/dev/null | sort -u >"$work/in_doubt" || true
seen="$(wc -l <"$work/granted")"
doubt="$(wc -l <"$work/in_doubt")"

# Every grant a client saw committed must be there.
cut -d' ' -f1 "$work/granted" >"$work/granted_txns"
q -d "$DB" -c 'CREATE TEMP TABLE seen (txn uuid)' \
  -c "\\copy seen FROM '$work/granted_txns'" \
  -c "CREATE TABLE allot_test_missing AS SELECT s.txn FROM seen s
        WHERE NOT EXISTS (SELECT 1 FROM allot.txns t WHERE t.txn = s.txn)
           OR NOT EXISTS (SELECT 1 FROM allot.events e WHERE e.txn = s.txn AND e.kind = 'grant')" >/dev/null
missing="$(qv "$DB" 'SELECT count(*) FROM allot_test_missing')"

# Retry each in-doubt txn with its own keys: a replay if it had committed.
replayed=0
fresh=0
while read -r txn keys; do
    [ -n "$txn" ] || continue
    r="$(qv "$DB" "SELECT replayed FROM allot.redeem('$txn', '$keys')")"
    if [ "$r" = t ]; then replayed=$((replayed + 1)); else fresh=$((fresh + 1)); fi
done <"$work/in_doubt"

# Grants made on the fast path reach the counters through a rollup (without
# the preload nothing else runs it); verify() compares after one.
q -d "$DB" -c 'SELECT * FROM allot.rollup()' >/dev/null

grants="$(qv "$DB" "SELECT count(*) FROM allot.events WHERE kind = 'grant' AND 'voucher:CRASH' = ANY(keys)")"
distinct="$(qv "$DB" "SELECT count(DISTINCT txn) FROM allot.events WHERE kind = 'grant'")"
all_grants="$(qv "$DB" "SELECT count(*) FROM allot.events WHERE kind = 'grant'")"
used="$(qv "$DB" "SELECT coalesce(sum(used), 0) FROM allot.counters WHERE key = 'voucher:CRASH'")"
verify_rows="$(qv "$DB" 'SELECT count(*) FROM allot.verify()')"
violations="$(qv "$DB" 'SELECT count(*) FROM allot.violations')"

echo "measured: kills=$kills grants_seen_by_clients=$seen in_doubt=$doubt" \
     "(replayed=$replayed decided_afresh=$fresh) voucher_grants=$grants used=$used" \
     "lost=$missing verify_rows=$verify_rows violations=$violations"
check "kills survived (backend + postmaster)" "$kills" 2
check "grants seen committed but lost" "$missing" 0
check "grants seen by clients (the test did run)" "$seen" 1 -ge
check "grant events per txn (never twice)" "$distinct" "$all_grants"
check "voucher:CRASH grants within its limit" "$grants" "$LIMIT" -le
check "voucher:CRASH counter equals its grant events" "$used" "$grants"
check "rows of allot.verify()" "$verify_rows" 0
check "rows of allot.violations" "$violations" 0

if [ "$CHECK_FAILS" -gt 0 ]; then
    echo "FAIL: crash_recovery: $CHECK_FAILS check(s) failed (database $DB kept)"
    exit 1
fi
q -d "$MAINT" -c "DROP DATABASE $DB WITH (FORCE)"
echo "PASS: crash_recovery"
