#!/usr/bin/env bash
# pg_dump keeps pg_allot's data (schema 0.5: every data table and both
# sequences are registered with pg_extension_config_dump; the dumped row of
# allot.rollup_state updates the one CREATE EXTENSION made and folds what
# the dump caught unfolded).
#
#   1. A database gets limits (a total, a per-day class, a sliding class, a
#      shadow limit, a small total on promo:*), grants (on the fast path
#      when preloaded), a denial, a reversal with a reason, a fold, two
#      archived days of events (allot.archive_events with the clock moved
#      on), the older one dropped (allot.drop_archived_events, which keeps
#      its sums in allot.archived_usage), fresh grants after that, and,
#      while another session holds the fold's lock, grants that fill
#      promo:P1 (on the fast path they are logged but not folded when the
#      dump is taken).
#   2. It is dumped as SQL and in the custom format, and restored four
#      times into new databases:
#        sql       psql --single-transaction
#        custom    pg_restore --single-transaction
#        sections  pg_restore in several transactions, with a rollup after
#                  CREATE EXTENSION and before the data (what the rollup
#                  worker or a cron job may do)
#        midway    psql in several transactions, with allot.rollup() run
#                  just before the data of allot.rollup_state: refused with
#                  an error if that rollup folded fast-path grants of the
#                  dump (they could be counted twice; with the preload it
#                  folds nothing when the server's first fold of the
#                  database came before the log), else restored as the others
#   3. In each restored database: limits, the whole event log (recent and
#      archived), usage, txns, path flags, keys with a rate and archived
#      usage equal the original's as dumped (keys with a rate: as after its
#      next rollup, for midway); counters and the fold position equal the
#      original's after its next rollup (nothing unfolded stays behind);
#      verify() and violations are empty; a txn granted before the dump is
#      a replay, one archived before it can be reversed, and the total
#      limit it freed takes one more grant, then denies; promo:P1, filled
#      by grants the dump caught unfolded, denies; new events and limits are
#      numbered after the restored ones; a rollup then counts nothing twice.
#
# Env: PGHOST/PGPORT/PGUSER (or its own throwaway cluster). Exit 0 = pass.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../harness/lib.sh"
ensure_cluster

MAINT="${PGDATABASE:-postgres}"
SRC=allot_dump_src
VARIANTS=(sql custom sections midway)
PRELOADED="$(server_preloaded "$MAINT")"
echo "dump_restore: server ${PGHOST}:${PGPORT}, preload=$PRELOADED"
work="$(mktemp -d)"
add_cleanup "rm -rf '$work'"

fresh_db() { q -d "$MAINT" -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1"; }

# dq DB SQL: one query's result; when it fails, psql's error and the query
# go to stderr and the result is empty (the check then reports <nothing>).
dq() {
    local out
    if out="$(q -d "$1" -c "$2" 2>"$work/dq_err")"; then
        printf '%s\n' "$out"
    else
        echo "  (query failed in $1: $2: $(tr '\n' ' ' <"$work/dq_err"))" >&2
    fi
}

# ---------------------------------------------------------------- 1. data
fresh_db "$SRC"
q -d "$SRC" -v ON_ERROR_STOP=1 >/dev/null <<'SQL' || die "setting up $SRC failed"
CREATE EXTENSION pg_allot;
SELECT allot.set_limit('coupon:C1', 3);
SELECT allot.set_limit('user:*', 100, '1 day');
SELECT allot.set_limit('shop:*', 50, '1 hour', sliding => true);
SELECT allot.set_limit('voucher:*', 1000, mode => 'shadow');
SELECT allot.set_limit('promo:*', 4);
SELECT allot.redeem('00000000-0000-4000-8000-000000000001', ARRAY['coupon:C1', 'user:U1']);
SELECT allot.redeem('00000000-0000-4000-8000-000000000002', ARRAY['coupon:C1', 'user:U2', 'shop:S1']);
SELECT allot.redeem('00000000-0000-4000-8000-000000000003', ARRAY['user:U1', 'voucher:V1'], 5);
SELECT allot.reverse('00000000-0000-4000-8000-000000000003', 'customer returned it');
SET allot.clock_override = '2020-01-01 12:00:00+00';
SELECT allot.redeem('00000000-0000-4000-8000-000000000000', ARRAY['user:U0'], 3);
RESET allot.clock_override;
SELECT allot.rollup();
-- Two days of the log archived (the clock moved on, a 7-day window), and
-- the older one dropped (its sums go to allot.archived_usage).
SET allot.clock_override = '2099-01-01 00:00:00+00';
SELECT allot.archive_events('7 days');
RESET allot.clock_override;
SELECT allot.drop_archived_events('1 day');
SELECT allot.redeem('00000000-0000-4000-8000-000000000004', ARRAY['coupon:C1', 'user:U3']);
SELECT allot.redeem('00000000-0000-4000-8000-000000000005', ARRAY['coupon:C1', 'user:U4']);  -- denied
SELECT allot.redeem('00000000-0000-4000-8000-000000000006', ARRAY['user:U5', 'shop:S1'], 2);
SELECT allot.redeem('00000000-0000-4000-8000-000000000007', ARRAY['promo:P1'], 2);
SELECT allot.rollup();
SQL
check "events archived in $SRC" "$(dq "$SRC" "SELECT count(*) FROM allot.events_archive")" 1 -ge
check "usage of a dropped archive day in $SRC" "$(dq "$SRC" "SELECT count(*) FROM allot.archived_usage")" 1 -ge
check "denial of coupon:C1 in $SRC" \
    "$(dq "$SRC" "SELECT count(*) FROM allot.txns WHERE txn = '00000000-0000-4000-8000-000000000005'")" 0

# Grants the dump catches unfolded: a session holds the fold's lock (the
# worker skips its rollups meanwhile) while they are made and dumped.
q -d "$SRC" -c "SET application_name = 'allot_dump_restore_hold'" -c "BEGIN" \
    -c "SELECT 1 FROM allot.rollup_state FOR UPDATE" -c "SELECT pg_sleep(120)" >/dev/null 2>&1 &
holder=$!
add_cleanup "kill $holder 2>/dev/null || true"
held=0
for _ in $(seq 1 100); do
    held="$(dq "$SRC" "SELECT count(*) FROM pg_catalog.pg_stat_activity
                        WHERE application_name = 'allot_dump_restore_hold' AND wait_event = 'PgSleep'")"
    [ "$held" = 1 ] && break
    sleep 0.1
done
check "a session holds the fold's lock in $SRC" "$held" 1
check "promo:P1 filled while the fold waits (granted)" \
    "$(dq "$SRC" "SET statement_timeout = '20s'; SELECT granted::int FROM allot.redeem('00000000-0000-4000-8000-000000000008', ARRAY['promo:P1', 'user:U6'], 2)")" 1
if [ "$PRELOADED" = 1 ]; then
    check "fast-path grants not folded when dumped" "$(dq "$SRC" "SELECT count(*) FROM allot.unfolded")" 1 -ge
fi

# What must survive, as text. Rates decay with the clock: only their keys.
# Usage is counters plus what is not folded yet: the same before and after
# a fold. (Not its window_start, path and rate, which move with the clock
# and with the shared memory of the server.)
snapshot() {
    q -d "$1" -v ON_ERROR_STOP=1 <<'SQL'
SELECT 'limit', id, scope, max, per, sliding, valid, mode FROM allot.limits ORDER BY id;
SELECT 'event', seq, txn, at, kind, keys, amount, path, detail FROM allot.event_log ORDER BY seq;
SELECT 'usage', u.key, u.limit_id, u.used, u.max, u.remaining FROM allot.usage u ORDER BY 2, 3;
SELECT 'txn', t.* FROM allot.txns t ORDER BY 2;
SELECT 'path', key, path, last_seen, path_changed_at FROM allot.entity_state ORDER BY key;
SELECT 'archived', a.* FROM allot.archived_usage a ORDER BY 2, 3, 4;
SQL
}
# Keys with a recorded rate (the rollup records those of slow-path grants
# when it folds them).
activity() { q -d "$1" -v ON_ERROR_STOP=1 -c "SELECT 'activity', key FROM allot.key_activity ORDER BY key"; }
# Counters and the fold position, with nothing left unfolded.
folded() {
    q -d "$1" -v ON_ERROR_STOP=1 <<'SQL'
SELECT 'counter', key, limit_id, window_start, used FROM allot.counters ORDER BY 2, 3, 4;
SELECT 'fold', last_seq, (SELECT count(*) FROM allot.rollup_state),
       (SELECT count(*) FROM allot.unfolded) FROM allot.rollup_state;
SQL
}
pg_dump -d "$SRC" -f "$work/dump.sql"
pg_dump -d "$SRC" -Fc -f "$work/dump.custom"
snapshot "$SRC" >"$work/src.txt"
activity "$SRC" >"$work/src_activity.txt"
q -d "$MAINT" -c "SELECT pg_catalog.pg_cancel_backend(pid) FROM pg_catalog.pg_stat_activity
                  WHERE application_name = 'allot_dump_restore_hold'" >/dev/null
wait "$holder" 2>/dev/null || true
q -d "$SRC" -c "SELECT allot.rollup()" >/dev/null
folded "$SRC" >"$work/src_folded.txt"
activity "$SRC" >"$work/src_activity_folded.txt"
src_max_seq="$(dq "$SRC" "SELECT max(seq) FROM allot.event_log")"
src_max_limit="$(dq "$SRC" "SELECT max(id) FROM allot.limits")"
check "archived events appear in the dump" "$(grep -c '^COPY allot.events_archive_' "$work/dump.sql" || true)" 1 -ge
# A rollup in the middle of a restore folds allot.events: it is refused
# when that holds fast-path grants of a limit.
fast_in_log="$(dq "$SRC" "SELECT count(*) FROM allot.events e, jsonb_array_elements(e.detail->'counted') f
                           WHERE f->>3 = 'f' AND e.kind IN ('grant', 'reverse')")"

# ---------------------------------------------------------------- 2, 3
for variant in "${VARIANTS[@]}"; do
    DST="allot_dump_dst_$variant"
    fails_before=$CHECK_FAILS
    echo "-- $variant"
    fresh_db "$DST"
    rc=0
    case "$variant" in
        sql)
            restore_out="$(q -d "$DST" --single-transaction -f "$work/dump.sql" 2>&1)" || rc=$? ;;
        custom)
            restore_out="$(pg_restore -d "$DST" --single-transaction --exit-on-error "$work/dump.custom" 2>&1)" || rc=$? ;;
        sections)
            restore_out="$(pg_restore -d "$DST" --exit-on-error --section=pre-data "$work/dump.custom" 2>&1 &&
                           q -d "$DST" -c "SELECT allot.rollup()" 2>&1 &&
                           pg_restore -d "$DST" --exit-on-error --section=data --section=post-data \
                               "$work/dump.custom" 2>&1)" || rc=$? ;;
        midway)
            sed 's/^COPY allot\.rollup_state /SELECT allot.rollup();\n&/' "$work/dump.sql" >"$work/midway.sql"
            check "midway: rollup placed before the data of allot.rollup_state" \
                "$(grep -c -x 'SELECT allot.rollup();' "$work/midway.sql" || true)" 1
            restore_out="$(q -d "$DST" -f "$work/midway.sql" 2>&1)" || rc=$? ;;
    esac
    if [ "$variant" = midway ] && [ "$rc" != 0 ]; then
        # Refused: right only if that rollup could fold fast-path grants.
        echo "  (midway: the restore was refused)"
        check "midway: refused only with fast-path grants in the log" "$fast_in_log" 1 -ge
        check "midway: the error names the rollup during the restore" \
            "$(grep -c 'a rollup ran in this database while the restore was loading it' <<<"$restore_out" || true)" 1
        if [ "$CHECK_FAILS" = "$fails_before" ]; then q -d "$MAINT" -c "DROP DATABASE $DST WITH (FORCE)"; fi
        continue
    fi
    # Not refused (without the preload; with it, when the server's first
    # fold of this database came before the log, so the rollup before
    # allot.rollup_state folded nothing): the checks below hold as for the
    # others.
    [ "$rc" = 0 ] || echo "$restore_out" | tail -n 5
    check "$variant: restore exit status" "$rc" 0
    for part in snapshot folded activity; do
        got="$work/dst_${variant}_$part.txt"
        "$part" "$DST" >"$got" 2>&1 || true
        case "$part" in
            snapshot) want="$work/src.txt" what="limits, log, usage, txns, paths, archived usage equal" ;;
            folded) want="$work/src_folded.txt" what="counters and fold position equal (folded)" ;;
            # The rollup midway recorded the rates the original's next
            # rollup did; the others have the dumped ones.
            activity) want="$work/src_activity.txt" what="keys with a rate equal"
                      [ "$variant" = midway ] && want="$work/src_activity_folded.txt" ;;
        esac
        same=1
        if ! diff -u "$want" "$got" >"$work/diff.txt"; then
            same=0
            head -n 30 "$work/diff.txt"
        fi
        check "$variant: $what" "$same" 1
    done
    check "$variant: verify() rows after restore" "$(dq "$DST" "SELECT count(*) FROM allot.verify()")" 0
    check "$variant: violations after restore" "$(dq "$DST" "SELECT count(*) FROM allot.violations")" 0

    # A replay of a grant in allot.events; a reversal of an archived one
    # (replays are recognised within the replay window only, see README).
    check "$variant: recent grant is a replay" \
        "$(dq "$DST" "SELECT replayed::int FROM allot.redeem('00000000-0000-4000-8000-000000000004', ARRAY['coupon:C1', 'user:U3'])")" 1
    check "$variant: archived grant reversed" \
        "$(dq "$DST" "SELECT allot.reverse('00000000-0000-4000-8000-000000000001')::int")" 1
    # coupon:C1 (max 3) is spent: grants 1, 2, 4, and 1 reversed just now.
    check "$variant: the total limit has room for the one reversed" \
        "$(dq "$DST" "SELECT granted::int FROM allot.redeem(gen_random_uuid(), ARRAY['coupon:C1', 'user:U8'])")" 1
    check "$variant: the spent total limit denies" \
        "$(dq "$DST" "SELECT granted::int FROM allot.redeem(gen_random_uuid(), ARRAY['coupon:C1', 'user:U9'])")" 0
    # promo:P1 (max 4): 2 folded, 2 unfolded when dumped (preloaded).
    check "$variant: promo:P1, filled partly unfolded, denies" \
        "$(dq "$DST" "SELECT granted::int FROM allot.redeem(gen_random_uuid(), ARRAY['promo:P1'])")" 0
    # New rows numbered after the restored ones.
    dq "$DST" "SELECT granted FROM allot.redeem('00000000-0000-4000-8000-0000000000a1', ARRAY['user:U7'])" >/dev/null
    check "$variant: new event seq after the restored ones (max $src_max_seq)" \
        "$(dq "$DST" "SELECT max(seq) FROM allot.events WHERE txn = '00000000-0000-4000-8000-0000000000a1'")" \
        "$((src_max_seq + 1))" -ge
    check "$variant: new limit id after the restored ones (max $src_max_limit)" \
        "$(dq "$DST" "SELECT allot.set_limit('card:*', 10)")" "$((src_max_limit + 1))" -ge
    # No event folded twice: user:U1's daily counter is 0 (txn 1 and 3
    # reversed), user:U7's is 1 and promo:P1's is 4, after a rollup.
    dq "$DST" "SELECT allot.rollup()" >/dev/null
    check "$variant: user:U1 counted once and reversed" \
        "$(dq "$DST" "SELECT coalesce(sum(used), 0) FROM allot.counters WHERE key = 'user:U1'")" 0
    check "$variant: user:U7 counted once" \
        "$(dq "$DST" "SELECT coalesce(sum(used), 0) FROM allot.counters WHERE key = 'user:U7'")" 1
    check "$variant: promo:P1 counted once" \
        "$(dq "$DST" "SELECT coalesce(sum(used), 0) FROM allot.counters WHERE key = 'promo:P1'")" 4
    check "$variant: verify() rows after new grants and a rollup" "$(dq "$DST" "SELECT count(*) FROM allot.verify()")" 0
    check "$variant: one row in allot.rollup_state" "$(dq "$DST" "SELECT count(*) FROM allot.rollup_state")" 1
    # Passed: dropped now (with the preload each database has a worker).
    if [ "$CHECK_FAILS" = "$fails_before" ]; then q -d "$MAINT" -c "DROP DATABASE $DST WITH (FORCE)"; fi
done

if [ "$CHECK_FAILS" -ne 0 ]; then
    echo "FAIL: dump_restore ($CHECK_FAILS checks failed; databases kept)"
    exit 1
fi
q -d "$MAINT" -c "DROP DATABASE $SRC WITH (FORCE)"
echo "PASS: dump_restore"
