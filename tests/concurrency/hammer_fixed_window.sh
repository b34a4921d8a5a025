#!/usr/bin/env bash
# Many clients redeem one voucher for ~51 users at once, under a
# per-user-per-voucher class limit and a fixed-window limit on the voucher
# (invariants 1 and 5, and all-or-nothing across keys).
#
#   voucher:*/user:*  max 1 (total)              -- each user once per voucher
#   voucher:V1        max 40 per '1 day', fixed  -- window aligned to the lower
#                     bound of valid = now() - 12h, so this run is far from a
#                     window boundary and sees exactly one window
#   16 pgbench clients x 100 attempts of
#       allot.redeem(gen_random_uuid(),
#                    ARRAY['voucher:V1', 'voucher:V1/user:' || (random()*50)::int], 1)
#
# Checks (from allot.events, allot.usage, allot.verify(), allot.violations):
#   - every user got at most one grant, and grants = distinct users granted;
#   - grants = min(40, distinct users who tried): the window limit is
#     reached but never exceeded, and denials for "user already has one" did
#     not eat voucher budget (a denial consumes nothing);
#   - usage: voucher:V1 counts = grants, each user key counts <= 1 and they
#     add up to grants; verify() and violations are empty.
# Set WINDOW_MAX=0 to run only the class limit (then grants = distinct users
# who tried).
#
# Env: as hammer_one_key.sh (PGHOST/PGPORT/PGUSER/PGDATABASE, or its own
# throwaway cluster). CLIENTS, TXNS, USERS, WINDOW_MAX override. Exit 0 = pass.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../harness/lib.sh"
ensure_cluster

CLIENTS="${CLIENTS:-16}"
TXNS="${TXNS:-100}"
USERS="${USERS:-50}"          # user ids are (random()*USERS)::int: 0..USERS
WINDOW_MAX="${WINDOW_MAX:-40}"
DB=allot_hammer_fixed_window
MAINT="${PGDATABASE:-postgres}"
V='voucher:V1'

echo "hammer_fixed_window: server ${PGHOST}:${PGPORT}, preload=$(q -d "$MAINT" -c 'SHOW shared_preload_libraries')"
q -d "$MAINT" -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
q -d "$DB" -c 'CREATE EXTENSION pg_allot' >/dev/null
id1="$(q -d "$DB" -c "SELECT allot.set_limit('voucher:*/user:*', 1)")"
echo "limit $id1: voucher:*/user:* max 1 (total)"
if [ "$WINDOW_MAX" -gt 0 ]; then
    id2="$(q -d "$DB" -c "SELECT allot.set_limit('$V', $WINDOW_MAX, interval '1 day', false,
                                                 tstzrange(now() - interval '12 hours', NULL), 'enforce')")"
    echo "limit $id2: $V max $WINDOW_MAX per 1 day (fixed window, valid from now() - 12h)"
fi

work="$(mktemp -d)"
add_cleanup "rm -rf '$work'"
# The key literals come in as pgbench variables: pgbench would take the
# ":V1" of a literal 'voucher:V1' in the script for a variable reference.
cat >"$work/redeem.sql" <<EOF
SELECT granted FROM allot.redeem(gen_random_uuid(), ARRAY[CAST(:voucher_key AS text), CAST(:user_prefix AS text) || (random()*$USERS)::int], 1);
EOF

if ! pgbench_run "$DB" "$CLIENTS" "$TXNS" "$work/redeem.sql" \
    -D "voucher_key=$V" -D "user_prefix=$V/user:"; then
    echo "FAIL: pgbench did not complete cleanly (database $DB kept)"
    exit 1
fi

q -d "$DB" -c 'SELECT * FROM allot.rollup()' >/dev/null

row="$(qv "$DB" "
    WITH e AS (
        SELECT e.kind, e.txn, e.path, k AS user_key
          FROM allot.events e, unnest(e.keys) k
         WHERE '$V' = ANY(e.keys) AND k LIKE '$V/user:%')
    SELECT count(*) FILTER (WHERE kind = 'grant'),
           count(DISTINCT txn) FILTER (WHERE kind = 'grant'),
           count(DISTINCT user_key) FILTER (WHERE kind = 'grant'),
           count(DISTINCT user_key) FILTER (WHERE kind IN ('grant', 'deny')),
           count(*) FILTER (WHERE kind = 'deny'),
           count(*) FILTER (WHERE kind = 'reverse'),
           count(*) FILTER (WHERE kind = 'grant' AND path = 'fast'),
           count(*) FILTER (WHERE kind = 'grant' AND path = 'slow')
      FROM e")"
read -r grants distinct_txns users_granted users_tried denials reversals fast slow <<<"$row"
max_per_user="$(qv "$DB" "
    SELECT coalesce(max(n), 0) FROM (
        SELECT k, count(*) AS n
          FROM allot.events e, unnest(e.keys) k
         WHERE e.kind = 'grant' AND k LIKE '$V/user:%'
         GROUP BY k) s")"
all_grants="$(qv "$DB" "SELECT count(*) FROM allot.events WHERE kind = 'grant'")"
read -r user_used_sum user_used_max <<<"$(qv "$DB" "
    SELECT coalesce(sum(used), 0), coalesce(max(used), 0)
      FROM allot.usage WHERE key LIKE '$V/user:%'")"
v_used="$(qv "$DB" "SELECT coalesce(sum(used), 0) FROM allot.usage WHERE key = '$V'")"
v_windows="$(qv "$DB" "SELECT count(*) FROM allot.usage WHERE key = '$V'")"
verify_rows="$(qv "$DB" 'SELECT count(*) FROM allot.verify()')"
violations="$(qv "$DB" 'SELECT count(*) FROM allot.violations')"

# If denials are not logged (allot.log_denials = off) we cannot see who
# tried; then assume every possible user did (1600 tries over 51 users).
if [ "$denials" = 0 ]; then
    users_tried=$((USERS + 1))
fi
if [ "$WINDOW_MAX" -gt 0 ] && [ "$users_tried" -gt "$WINDOW_MAX" ]; then
    want_grants="$WINDOW_MAX"
else
    want_grants="$users_tried"
fi

echo "measured: attempts=$((CLIENTS * TXNS)) grants=$grants (fast=$fast slow=$slow)" \
    "users_granted=$users_granted users_tried=$users_tried max_grants_per_user=$max_per_user" \
    "denials_logged=$denials reversals=$reversals usage[$V]=$v_used in $v_windows window(s)" \
    "usage[user keys] sum=$user_used_sum max=$user_used_max verify_rows=$verify_rows violations=$violations"
check "grants of any kind = grants for $V" "$all_grants" "$grants"
check "distinct txns among grants" "$distinct_txns" "$grants"
check "max grants per user" "$max_per_user" 1 -le
check "grants = distinct users granted" "$grants" "$users_granted"
check "grants = min(window max, users who tried)" "$grants" "$want_grants"
check "reverse events" "$reversals" 0
check "sum(usage.used) of user keys = grants" "$user_used_sum" "$grants"
check "max(usage.used) of a user key" "$user_used_max" 1 -le
if [ "$WINDOW_MAX" -gt 0 ]; then
    check "usage.used of $V (window) = grants" "$v_used" "$grants"
    check "usage.used of $V <= window max" "$v_used" "$WINDOW_MAX" -le
    check "usage rows (windows) of $V" "$v_windows" 1
fi
check "rows of allot.verify()" "$verify_rows" 0
check "rows of allot.violations" "$violations" 0

if [ "$CHECK_FAILS" -gt 0 ]; then
    show_failure_details "$DB" "key = '$V' OR used > 1"
    echo "FAIL: hammer_fixed_window: $CHECK_FAILS check(s) failed (database $DB kept)"
    exit 1
fi
q -d "$MAINT" -c "DROP DATABASE $DB"
echo "PASS: hammer_fixed_window"
