#!/usr/bin/env bash
# Many clients hammer one hot voucher with a total limit (invariant 1: no
# over-admission; invariant 5: counters agree with the log).
#
#   voucher:HOT has a total limit of 500. 32 pgbench clients make
#   ceil(3000 / 32) = 94 attempts each (3008 in all), every attempt
#       allot.redeem(gen_random_uuid(),
#                    ARRAY['voucher:HOT', 'user:' || (random()*1000)::int], 1)
#   Afterwards, exactly 500 grants are in allot.events, allot.usage counts
#   500 for voucher:HOT, allot.verify() and allot.violations are empty.
#
# Env: PGHOST/PGPORT/PGUSER (and PGDATABASE, the maintenance database) of a
# server where pg_allot is installed; without PGHOST/PGPORT it starts its own
# throwaway cluster with the preload. CLIENTS, ATTEMPTS, LIMIT override the
# defaults. Exit 0 = pass. The test database is dropped on success and kept
# on failure.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../harness/lib.sh"
ensure_cluster

CLIENTS="${CLIENTS:-32}"
ATTEMPTS="${ATTEMPTS:-3000}"
LIMIT="${LIMIT:-500}"
TXNS=$(((ATTEMPTS + CLIENTS - 1) / CLIENTS))
DB=allot_hammer_one_key
MAINT="${PGDATABASE:-postgres}"
KEY='voucher:HOT'

echo "hammer_one_key: server ${PGHOST}:${PGPORT}, preload=$(q -d "$MAINT" -c 'SHOW shared_preload_libraries')"
q -d "$MAINT" -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
q -d "$DB" -c 'CREATE EXTENSION pg_allot' >/dev/null
limit_id="$(q -d "$DB" -c "SELECT allot.set_limit('$KEY', $LIMIT)")"
echo "limit $limit_id: $KEY max $LIMIT (total)"

work="$(mktemp -d)"
add_cleanup "rm -rf '$work'"
# The key literals come in as pgbench variables: pgbench would take the
# ":HOT" of a literal 'voucher:HOT' in the script for a variable reference.
cat >"$work/redeem.sql" <<'EOF'
SELECT granted FROM allot.redeem(gen_random_uuid(), ARRAY[CAST(:hot_key AS text), CAST(:user_prefix AS text) || (random()*1000)::int], 1);
EOF

if ! pgbench_run "$DB" "$CLIENTS" "$TXNS" "$work/redeem.sql" \
    -D "hot_key=$KEY" -D "user_prefix=user:"; then
    echo "FAIL: pgbench did not complete cleanly (database $DB kept)"
    exit 1
fi

# Fold everything into the counters before comparing (always safe to call;
# without the preload nothing else runs it).
q -d "$DB" -c 'SELECT * FROM allot.rollup()' >/dev/null

row="$(qv "$DB" "
    SELECT count(*) FILTER (WHERE kind = 'grant'),
           count(DISTINCT txn) FILTER (WHERE kind = 'grant'),
           count(*) FILTER (WHERE kind = 'reverse'),
           count(*) FILTER (WHERE kind = 'deny'),
           count(*) FILTER (WHERE kind = 'grant' AND path = 'fast'),
           count(*) FILTER (WHERE kind = 'grant' AND path = 'slow')
      FROM allot.events WHERE '$KEY' = ANY(keys)")"
read -r grants distinct_txns reversals denials fast slow <<<"$row"
used="$(qv "$DB" "SELECT coalesce(sum(used), 0) FROM allot.usage WHERE key = '$KEY'")"
verify_rows="$(qv "$DB" 'SELECT count(*) FROM allot.verify()')"
violations="$(qv "$DB" 'SELECT count(*) FROM allot.violations')"

echo "measured: attempts=$((CLIENTS * TXNS)) grants=$grants (fast=$fast slow=$slow)" \
    "denials_logged=$denials distinct_granted_txns=$distinct_txns reversals=$reversals" \
    "usage.used=$used verify_rows=$verify_rows violations=$violations"
check "grant events for $KEY" "$grants" "$LIMIT"
check "distinct txns among those grants" "$distinct_txns" "$grants"
check "reverse events" "$reversals" 0
check "sum(allot.usage.used) for $KEY" "$used" "$LIMIT"
check "rows of allot.verify()" "$verify_rows" 0
check "rows of allot.violations" "$violations" 0

if [ "$CHECK_FAILS" -gt 0 ]; then
    show_failure_details "$DB" "key = '$KEY'"
    echo "FAIL: hammer_one_key: $CHECK_FAILS check(s) failed (database $DB kept)"
    exit 1
fi
q -d "$MAINT" -c "DROP DATABASE $DB"
echo "PASS: hammer_one_key"
