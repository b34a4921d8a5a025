#!/usr/bin/env bash
# pg_dump keeps pg_allot's data (schema 0.5: every data table and both
# sequences are registered with pg_extension_config_dump).
#
#   1. A database gets limits (a total, a per-day class, a sliding class, a
#      shadow limit), grants (on the fast path when preloaded), a denial, a
#      reversal with a reason, a fold, an archived day of events
#      (allot.archive_events with the clock moved on), and fresh grants
#      after that.
#   2. It is dumped twice, as SQL (restored with psql) and in the custom
#      format (restored with pg_restore), into two new databases.
#   3. In each restored database: limits, counters, the whole event log
#      (recent and archived), usage, txns, path flags, archived usage and
#      the fold position equal the original's; verify() is empty before and
#      after a rollup; a txn granted before the dump is a replay, one
#      archived before it can be reversed, and the total limit it freed
#      takes one more grant, then denies; new events and
#      limits are numbered after the restored ones; counters end where the
#      original's would (no event folded twice).
#
# Env: PGHOST/PGPORT/PGUSER (or its own throwaway cluster). Exit 0 = pass.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../harness/lib.sh"
ensure_cluster

MAINT="${PGDATABASE:-postgres}"
SRC=allot_dump_src
echo "dump_restore: server ${PGHOST}:${PGPORT}, preload=$(server_preloaded "$MAINT")"
work="$(mktemp -d)"
add_cleanup "rm -rf '$work'"

fresh_db() { q -d "$MAINT" -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"; }

# ---------------------------------------------------------------- 1. data
fresh_db "$SRC"
q -d "$SRC" -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE EXTENSION pg_allot;
SELECT allot.set_limit('coupon:C1', 3);
SELECT allot.set_limit('user:*', 100, '1 day');
SELECT allot.set_limit('shop:*', 50, '1 hour', sliding => true);
SELECT allot.set_limit('voucher:*', 1000, mode => 'shadow');
SELECT allot.redeem('00000000-0000-4000-8000-000000000001', ARRAY['coupon:C1', 'user:U1']);
SELECT allot.redeem('00000000-0000-4000-8000-000000000002', ARRAY['coupon:C1', 'user:U2', 'shop:S1']);
SELECT allot.redeem('00000000-0000-4000-8000-000000000003', ARRAY['user:U1', 'voucher:V1'], 5);
SELECT allot.reverse('00000000-0000-4000-8000-000000000003', 'customer returned it');
SELECT allot.rollup();
-- A day of the log archived: the clock moved on 8 days, a 7-day window.
SET allot.clock_override = '2099-01-01 00:00:00+00';
SELECT allot.archive_events('7 days');
RESET allot.clock_override;
SELECT allot.redeem('00000000-0000-4000-8000-000000000004', ARRAY['coupon:C1', 'user:U3']);
SELECT allot.redeem('00000000-0000-4000-8000-000000000005', ARRAY['coupon:C1', 'user:U4']);  -- denied
SELECT allot.redeem('00000000-0000-4000-8000-000000000006', ARRAY['user:U5', 'shop:S1'], 2);
SQL
check "events archived in $SRC" "$(q -d "$SRC" -c "SELECT count(*) FROM allot.events_archive")" 1 -ge
check "denial of coupon:C1 in $SRC" \
    "$(q -d "$SRC" -c "SELECT count(*) FROM allot.txns WHERE txn = '00000000-0000-4000-8000-000000000005'")" 0

# What must survive, as text. Rates decay with the clock: only their keys.
snapshot() {
    q -d "$1" -v ON_ERROR_STOP=1 <<'SQL'
SELECT 'limit', id, scope, max, per, sliding, valid, mode FROM allot.limits ORDER BY id;
SELECT 'counter', key, limit_id, window_start, used FROM allot.counters ORDER BY 2, 3, 4;
SELECT 'event', seq, txn, at, kind, keys, amount, path, detail FROM allot.event_log ORDER BY seq;
-- (usage: not its window_start, path and rate, which move with the clock
-- and with the shared memory of the server)
SELECT 'usage', u.key, u.limit_id, u.used, u.max, u.remaining FROM allot.usage u ORDER BY 2, 3;
SELECT 'txn', t.* FROM allot.txns t ORDER BY 2;
SELECT 'path', key, path, last_seen, path_changed_at FROM allot.entity_state ORDER BY key;
SELECT 'activity', key FROM allot.key_activity ORDER BY key;
SELECT 'archived', a.* FROM allot.archived_usage a ORDER BY 2, 3, 4;
SELECT 'fold', last_seq, (SELECT count(*) FROM allot.rollup_state)
  FROM allot.rollup_state;
SQL
}
# The fold position must be read where nothing folds in between: the
# worker of a preloaded server folds on its own, so dump what one snapshot
# shows (pg_dump reads one snapshot too).
q -d "$SRC" -c "SELECT allot.rollup()" >/dev/null
pg_dump -d "$SRC" -f "$work/dump.sql"
pg_dump -d "$SRC" -Fc -f "$work/dump.custom"
snapshot "$SRC" >"$work/src.txt"
src_max_seq="$(q -d "$SRC" -c "SELECT max(seq) FROM allot.event_log")"
src_max_limit="$(q -d "$SRC" -c "SELECT max(id) FROM allot.limits")"
check "archived events appear in the dump" "$(grep -c '^COPY allot.events_archive_' "$work/dump.sql" || true)" 1 -ge

# ---------------------------------------------------------------- 2, 3
for format in sql custom; do
    DST="allot_dump_dst_$format"
    fresh_db "$DST"
    if [ "$format" = sql ]; then
        restore_out="$(q -d "$DST" -v ON_ERROR_STOP=1 -f "$work/dump.sql" 2>&1)" && rc=0 || rc=$?
    else
        restore_out="$(pg_restore -d "$DST" --exit-on-error "$work/dump.custom" 2>&1)" && rc=0 || rc=$?
    fi
    [ "$rc" = 0 ] || echo "$restore_out" | tail -n 5
    check "$format: restore exit status" "$rc" 0
    snapshot "$DST" >"$work/dst_$format.txt"
    same=1
    if ! diff -u "$work/src.txt" "$work/dst_$format.txt" >"$work/diff_$format.txt"; then
        same=0
        head -n 30 "$work/diff_$format.txt"
    fi
    check "$format: limits, counters, log, usage, txns, paths, fold position equal" "$same" 1
    check "$format: verify() rows after restore" "$(q -d "$DST" -c "SELECT count(*) FROM allot.verify()")" 0

    # A replay of a grant in allot.events; a reversal of an archived one
    # (replays are recognised within the replay window only, see README).
    check "$format: recent grant is a replay" \
        "$(q -d "$DST" -c "SELECT replayed::int FROM allot.redeem('00000000-0000-4000-8000-000000000004', ARRAY['coupon:C1', 'user:U3'])")" 1
    check "$format: archived grant reversed" \
        "$(q -d "$DST" -c "SELECT allot.reverse('00000000-0000-4000-8000-000000000001')::int")" 1
    # coupon:C1 (max 3) is spent: grants 1, 2, 4, and 1 reversed just now.
    check "$format: the total limit has room for the one reversed" \
        "$(q -d "$DST" -c "SELECT granted::int FROM allot.redeem(gen_random_uuid(), ARRAY['coupon:C1', 'user:U8'])")" 1
    check "$format: the spent total limit denies" \
        "$(q -d "$DST" -c "SELECT granted::int FROM allot.redeem(gen_random_uuid(), ARRAY['coupon:C1', 'user:U9'])")" 0
    # New rows numbered after the restored ones.
    q -d "$DST" -c "SELECT granted FROM allot.redeem('00000000-0000-4000-8000-0000000000a1', ARRAY['user:U7'])" >/dev/null
    new_seq="$(q -d "$DST" -c "SELECT max(seq) FROM allot.events WHERE txn = '00000000-0000-4000-8000-0000000000a1'")"
    check "$format: new event seq after the restored ones (max $src_max_seq)" "$new_seq" "$((src_max_seq + 1))" -ge
    new_limit="$(q -d "$DST" -c "SELECT allot.set_limit('card:*', 10)")"
    check "$format: new limit id after the restored ones (max $src_max_limit)" "$new_limit" "$((src_max_limit + 1))" -ge
    # No event folded twice: user:U1's daily counter is 0 (txn 1 and 3
    # reversed) and user:U7's is 1, after a rollup.
    q -d "$DST" -c "SELECT allot.rollup()" >/dev/null
    check "$format: user:U1 counted once and reversed" \
        "$(q -d "$DST" -c "SELECT coalesce(sum(used), 0) FROM allot.counters WHERE key = 'user:U1'")" 0
    check "$format: user:U7 counted once" \
        "$(q -d "$DST" -c "SELECT coalesce(sum(used), 0) FROM allot.counters WHERE key = 'user:U7'")" 1
    check "$format: verify() rows after new grants and a rollup" "$(q -d "$DST" -c "SELECT count(*) FROM allot.verify()")" 0
    check "$format: one row in allot.rollup_state" "$(q -d "$DST" -c "SELECT count(*) FROM allot.rollup_state")" 1
done

if [ "$CHECK_FAILS" -ne 0 ]; then
    echo "FAIL: dump_restore ($CHECK_FAILS checks failed; databases kept)"
    exit 1
fi
for db in "$SRC" allot_dump_dst_sql allot_dump_dst_custom; do q -d "$MAINT" -c "DROP DATABASE $db"; done
echo "PASS: dump_restore"
