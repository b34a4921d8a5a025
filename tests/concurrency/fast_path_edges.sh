#!/usr/bin/env bash
# Edge cases of the fast path's shared state, each once found broken:
#
#   1. decision time behind a meter: a key's meter moved to the next window
#      (a later decision), then a redemption decided at an earlier time in
#      the old window. It must not be counted in the newer window (it was,
#      and the old window then held more grants than its max): on the fast
#      path it is decided again at a later time, or, when the clock cannot
#      move (allot.clock_override), fails with 40001 and consumes nothing.
#      On the slow path it is decided in its own window (denied here).
#   2. CREATE EXTENSION rolled back after fast redemptions, then created for
#      real: nothing of the rolled-back log may survive in shared memory (a
#      stale fold position once made the new log's first grants unfoldable,
#      and a max-1 voucher was granted twice).
#   3. redeem_many with a txn granted before, then a new one: the replay
#      must not take the units the new one needs (it did, on both paths).
#   5. the first grant of a new database in flight while a later one
#      commits and the log is folded: the fold must wait for it (a writer
#      registered before any seq was seen once let the fold pass seq 1, and
#      flash_mob's phase a granted 5001 of 5000). Preload only.
#   6. allot.set_path moving a key to the slow path while a transaction
#      that made a fast grant before the key's last one wants to redeem the
#      key: the move waits for the fold to pass that earlier grant (so for
#      the transaction to end), and the transaction waited for the move to
#      end. Both gave up after 10 s; the soak saw it once as a client's
#      40001. The move must let the key be redeemed meanwhile, and succeed
#      once the transaction commits (preload only).
#   4. DROP DATABASE gives the database's shared entry back: after more
#      databases than there are entries (64) were created and dropped, a new
#      database still gets the fast path (preload only).
#
# Env: as hammer_one_key.sh (PGHOST/PGPORT/PGUSER, PGDATABASE = maintenance
# database; without them it starts its own cluster with the preload).
# Exit 0 = pass.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../harness/lib.sh"
ensure_cluster

MAINT="${PGDATABASE:-postgres}"
DB=allot_fast_path_edges
export PGOPTIONS="${PGOPTIONS:-} -c statement_timeout=60s"
preload_libs="$(q -d "$MAINT" -c 'SHOW shared_preload_libraries')"
if [[ ",${preload_libs// /}," == *,pg_allot,* ]]; then PRELOAD=1; else PRELOAD=0; fi
echo "fast_path_edges: server ${PGHOST}:${PGPORT}, preload=$PRELOAD"

fresh_db() {
    q -d "$MAINT" -c 'SET client_min_messages = warning' \
      -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null
}

# sqlstate_of DB SQL...: the SQLSTATE the statements end with ("ok" if none).
sqlstate_of() {
    local db="$1" err
    shift
    if err="$(q -d "$db" -v VERBOSITY=verbose "$@" 2>&1 >/dev/null)"; then
        echo ok
    else
        sed -n 's/^ERROR: *\([0-9A-Z]\{5\}\):.*/\1/p' <<<"$err" | head -n 1
        echo "$err" | head -n 2 | sed 's/^/    /' >&2
    fi
}

echo
echo "== 1. a decision time behind the key's meter (10 s fixed windows, max 2)"
fresh_db "$DB"
q -d "$DB" -c 'CREATE EXTENSION pg_allot' \
  -c "SELECT allot.set_limit('voucher:CLK', 2, '10 seconds')" >/dev/null
at() { echo "SET allot.clock_override = '2030-01-01 00:00:$1+00';"; }
redeem_clk="SELECT granted FROM allot.redeem(gen_random_uuid(), ARRAY['voucher:CLK'])"
first="$(q -d "$DB" -c "$(at 05)" -c "$redeem_clk" -c "$redeem_clk" | tr '\n' ' ')"
check "1: two grants at :05 (window :00-:10)" "$(grep -o t <<<"$first" | wc -l)" 2
later="$(q -d "$DB" -c "$(at 12)" -c "$redeem_clk")"
check "1: a grant at :12 (window :10-:20)" "$([ "$later" = t ] && echo 1 || echo 0)" 1
if [ "$PRELOAD" = 1 ]; then
    state="$(sqlstate_of "$DB" -c "$(at 09)" -c "$redeem_clk")"
    echo "  redeem at :09 after the meter moved to :10: SQLSTATE $state"
    check "1: redeem at :09 fails with 40001 (fast path)" \
          "$([ "$state" = 40001 ] && echo 1 || echo 0)" 1
    fast="$(qv "$DB" "SELECT count(*) FROM allot.events WHERE kind = 'grant' AND path = 'fast'")"
    check "1: the grants were made on the fast path" "$fast" 3
else
    late="$(q -d "$DB" -c "$(at 09)" -c "$redeem_clk")"
    check "1: redeem at :09 denied (slow path, window full)" \
          "$([ "$late" = f ] && echo 1 || echo 0)" 1
fi
q -d "$DB" -c 'SELECT * FROM allot.rollup()' >/dev/null
per_window="$(qv "$DB" "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM allot.events
                         WHERE kind = 'grant' GROUP BY date_bin('10 seconds', at, '2030-01-01')) w")"
check "1: most grants in one 10 s window (by decision time)" "$per_window" 2 -le
check "1: grants counted in the window of their decision" "$(qv "$DB" "
    SELECT count(*) FROM allot.events e, jsonb_array_elements(e.detail->'counted') c
     WHERE e.kind = 'grant' AND (c->>2)::timestamptz <> date_bin('10 seconds', e.at, '2030-01-01')")" 0
check "1: rows of allot.verify()" "$(qv "$DB" 'SELECT count(*) FROM allot.verify()')" 0

echo
echo "== 2. CREATE EXTENSION rolled back after redemptions, then created again"
fresh_db "$DB"
q -d "$DB" -c 'BEGIN' -c 'CREATE EXTENSION pg_allot' -c "SELECT allot.set_limit('k:*', 5)" \
  -c "SELECT count(*) FILTER (WHERE r.granted) FROM generate_series(1, 50) g,
             LATERAL allot.redeem(gen_random_uuid(), ARRAY['k:' || g]) r" -c 'ROLLBACK' >/dev/null
# Two folds before the first grant: the second would have moved the fold
# position to the rolled-back log's last seq, past the new log's first grants.
q -d "$DB" -c 'CREATE EXTENSION pg_allot' -c "SELECT allot.set_limit('voucher:ONE', 1)" \
  -c 'SELECT * FROM allot.rollup()' -c 'SELECT * FROM allot.rollup()' >/dev/null
redeem_one="SELECT granted FROM allot.redeem(gen_random_uuid(), ARRAY['voucher:ONE'])"
got1="$(q -d "$DB" -c "$redeem_one")"
q -d "$DB" -c 'SELECT * FROM allot.rollup()' -c "SELECT allot.set_path('voucher:ONE', 'slow')" >/dev/null
got2="$(q -d "$DB" -c "$redeem_one")"
got3="$(q -d "$DB" -c "$redeem_one")"
echo "  redeem voucher:ONE (max 1) three times: $got1 $got2 $got3"
grants="$(qv "$DB" "SELECT count(*) FROM allot.events WHERE kind = 'grant'")"
check "2: voucher:ONE granted once" "$grants" 1
check "2: rows of allot.verify()" "$(qv "$DB" 'SELECT count(*) FROM allot.verify()')" 0

echo
echo "== 3. redeem_many: a replayed txn does not take a new txn's units (max 2)"
fresh_db "$DB"
q -d "$DB" -c 'CREATE EXTENSION pg_allot' -c "SELECT allot.set_limit('voucher:H', 2)" >/dev/null
x=11111111-1111-1111-1111-111111111111
y=22222222-2222-2222-2222-222222222222
q -d "$DB" -c "SELECT granted FROM allot.redeem('$x', ARRAY['voucher:H'])" >/dev/null
batch="$(q -d "$DB" -F ' ' -c "SELECT idx, granted, replayed FROM allot.redeem_many('[
    {\"txn\": \"$x\", \"keys\": [\"voucher:H\"]},
    {\"txn\": \"$y\", \"keys\": [\"voucher:H\"]}]'::jsonb) ORDER BY idx")"
echo "$batch" | sed 's/^/  /'
check "3: the earlier txn (item 0) is a replay" "$(grep -c "^0 t t$" <<<"$batch" || true)" 1
check "3: the new txn (item 1) is granted" "$(grep -c "^1 t f$" <<<"$batch" || true)" 1
q -d "$DB" -c 'SELECT * FROM allot.rollup()' >/dev/null
check "3: rows of allot.verify()" "$(qv "$DB" 'SELECT count(*) FROM allot.verify()')" 0
q -d "$MAINT" -c "DROP DATABASE $DB WITH (FORCE)" >/dev/null

if [ "$PRELOAD" = 1 ]; then
    echo
    echo "== 5. the first grant of a new database in flight while the log is folded"
    fresh_db "$DB"
    q -d "$DB" -c 'CREATE EXTENSION pg_allot' -c "SELECT allot.set_limit('voucher:S', 10)" \
      -c 'SELECT * FROM allot.rollup()' >/dev/null
    # The first grant (seq 1) stays uncommitted for 3 s ...
    q -d "$DB" -c 'BEGIN' -c "SELECT path FROM allot.redeem(gen_random_uuid(), ARRAY['voucher:S'])" \
      -c 'SELECT pg_sleep(3)' -c 'COMMIT' >"$DB.first.out" 2>&1 &
    first_pid=$!
    sleep 1
    # ... while a second one commits and the log is folded (by hand here;
    # the worker folds too).
    second="$(q -d "$DB" -c "SELECT path FROM allot.redeem(gen_random_uuid(), ARRAY['voucher:S'])" \
                -c 'SELECT * FROM allot.rollup()')"
    second="${second%%$'\n'*}"
    wait "$first_pid" || true
    first="$(head -n 1 "$DB.first.out")"
    rm -f "$DB.first.out"
    echo "  first grant: path $first; second: path $second"
    check "5: both grants on the fast path" \
          "$([ "$first $second" = "fast fast" ] && echo 1 || echo 0)" 1
    q -d "$DB" -c 'SELECT * FROM allot.rollup()' >/dev/null
    check "5: counters hold both grants after the fold" \
          "$(qv "$DB" "SELECT coalesce(sum(used), 0) FROM allot.counters WHERE key = 'voucher:S'")" 2
    check "5: rows of allot.verify()" "$(qv "$DB" 'SELECT count(*) FROM allot.verify()')" 0
    q -d "$MAINT" -c "DROP DATABASE $DB WITH (FORCE)" >/dev/null

    echo
    echo "== 6. set_path waits for a transaction that waits to redeem the key it moves"
    fresh_db "$DB"
    q -d "$DB" -c 'CREATE EXTENSION pg_allot' -c "SELECT allot.set_limit('voucher:A', 10)" \
      -c "SELECT allot.set_limit('voucher:B', 10)" -c 'SELECT * FROM allot.rollup()' >/dev/null
    # A fast grant of voucher:A, then 3 s later voucher:B, in one transaction ...
    q -d "$DB" -F ' ' -c 'BEGIN' -c "SELECT path FROM allot.redeem(gen_random_uuid(), ARRAY['voucher:A'])" \
      -c 'SELECT pg_sleep(3)' \
      -c "SELECT granted, path FROM allot.redeem(gen_random_uuid(), ARRAY['voucher:B'])" \
      -c 'COMMIT' >"$DB.holder.out" 2>&1 &
    holder_pid=$!
    sleep 1
    # ... a later grant of voucher:B (so its last grant comes after the
    # transaction's), then voucher:B moved to the slow path meanwhile.
    q -d "$DB" -c "SELECT path FROM allot.redeem(gen_random_uuid(), ARRAY['voucher:B'])" >/dev/null
    set +e
    moved="$(PGOPTIONS="$PGOPTIONS -c statement_timeout=30s" \
               q -d "$DB" -c "SELECT allot.set_path('voucher:B', 'slow')" 2>&1)"
    set -e
    wait "$holder_pid" && holder_rc=0 || holder_rc=$?
    holder="$(grep -v '^$' "$DB.holder.out" | tr '\n' ' ')"
    rm -f "$DB.holder.out"
    echo "  transaction: exit $holder_rc, output: $holder"
    echo "  set_path: $moved"
    check "6: the transaction redeemed both keys and committed" \
          "$([ "$holder_rc" = 0 ] && [[ "$holder" == "fast t fast " || "$holder" == "fast t slow " ]] \
              && echo 1 || echo 0)" 1
    check "6: set_path moved the key (answered its old path, fast)" \
          "$([ "$moved" = fast ] && echo 1 || echo 0)" 1
    check "6: voucher:B is on the slow path afterwards" \
          "$(qv "$DB" "SELECT count(*) FROM allot.entities WHERE key = 'voucher:B' AND path = 'slow'")" 1
    q -d "$DB" -c 'SELECT * FROM allot.rollup()' >/dev/null
    check "6: counters hold the three grants" \
          "$(qv "$DB" "SELECT coalesce(sum(used), 0) FROM allot.counters WHERE key IN ('voucher:A', 'voucher:B')")" 3
    check "6: rows of allot.verify()" "$(qv "$DB" 'SELECT count(*) FROM allot.verify()')" 0
    q -d "$MAINT" -c "DROP DATABASE $DB WITH (FORCE)" >/dev/null

    echo
    echo "== 4. DROP DATABASE gives its shared entry back (66 databases made and dropped)"
    for i in $(seq 1 66); do
        fresh_db "${DB}_$i"
        q -d "${DB}_$i" -c 'CREATE EXTENSION pg_allot' -c "SELECT allot.set_limit('voucher:D', 5)" \
          -c "SELECT path FROM allot.redeem(gen_random_uuid(), ARRAY['voucher:D'])" >/dev/null
        q -d "$MAINT" -c "DROP DATABASE ${DB}_$i WITH (FORCE)" >/dev/null
    done
    fresh_db "$DB"
    path="$(q -d "$DB" -c 'CREATE EXTENSION pg_allot' -c "SELECT allot.set_limit('voucher:D', 5)" \
              -c "SELECT path FROM allot.redeem(gen_random_uuid(), ARRAY['voucher:D'])" | tail -n 1)"
    check "4: a new database still redeems on the fast path" \
          "$([ "$path" = fast ] && echo 1 || echo 0)" 1
    q -d "$MAINT" -c "DROP DATABASE $DB WITH (FORCE)" >/dev/null
fi

if [ "$CHECK_FAILS" -gt 0 ]; then
    echo "FAIL: fast_path_edges: $CHECK_FAILS check(s) failed"
    exit 1
fi
echo "PASS: fast_path_edges"
