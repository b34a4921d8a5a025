#!/usr/bin/env bash
# Plans made while the tables looked empty.
#
# pg_allot keeps one generic plan per statement for a backend's life. A
# database analyzed right after CREATE EXTENSION (VACUUM ANALYZE, as many
# setup scripts do) has statistics saying every allot table is empty, and a
# plan made then used to join a parameter array to a table the wrong way
# round: a scan of the whole table (allot.counters, allot.entity_state) as
# the outer side, every array element read again for each of its rows. A
# key load then read all counters, and a rollup worker behind by 50,000
# keys spent minutes in one rollup at 100% of a core.
#
# This test makes the plans in that state and reads them with auto_explain
# (in the session, as NOTICEs, in JSON with VERBOSE): no statement may read
# one of its parameter arrays (unnest($1, ...)) as the inner side of a
# join. It first checks that the statements that had that plan were
# captured at all: loading counters, folding, rates, reversing.
#
# Env: PGHOST/PGPORT/PGUSER and ALLOT_CLUSTER_DIR. Exit 0 = pass.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../harness/lib.sh"
ensure_cluster

MAINT="${PGDATABASE:-postgres}"
DB=allot_stale_stats
preload="$(server_preloaded "$MAINT")"
echo "stale_statistics: server ${PGHOST}:${PGPORT}, preload=$preload"

# With the preload, the rollup this test calls must be the one that folds
# the session's grants: the database's worker runs its first rollup (which
# the first redemption waits for) and then sleeps for an hour.
if [ "$preload" = 1 ]; then
    q -d "$MAINT" -c "ALTER SYSTEM SET allot.rollup_interval = '1h'" -c 'SELECT pg_reload_conf()' >/dev/null
    add_cleanup "q -d '$MAINT' -c 'ALTER SYSTEM RESET allot.rollup_interval' -c 'SELECT pg_reload_conf()' >/dev/null 2>&1"
    for _ in $(seq 100); do  # until new backends (and workers) start with it
        [ "$(q -d "$MAINT" -c 'SHOW allot.rollup_interval')" = 1h ] && break
        sleep 0.1
    done
fi
q -d "$MAINT" -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
add_cleanup "q -d '$MAINT' -c 'DROP DATABASE IF EXISTS $DB WITH (FORCE)' >/dev/null 2>&1"
q -d "$DB" -c 'CREATE EXTENSION pg_allot' >/dev/null
q -d "$DB" >/dev/null <<'SQL'
SELECT allot.set_limit('voucher:*', 1000);
SELECT allot.set_limit('user:*', 100, '1 day');
SELECT allot.set_limit('shop:*', 100, '1 minute', sliding => false);
SQL
# Every allot table is empty, and now its statistics say so.
q -d "$DB" -c 'VACUUM ANALYZE' 2>/dev/null

plans="$(mktemp)"
add_cleanup "rm -f '$plans'"
# One session: every statement below plans in it, after the ANALYZE. On the
# fast path a key moved to the slow path by hand gives the rollup a slow
# grant to read, so it writes that key's rate. A fast-path grant written by
# hand after the first redemption (as one a preloaded server left unfolded)
# gives the fold something to write in both modes: without one, it reads
# the log and writes nothing.
q -d "$DB" >"$plans" 2>&1 <<'SQL'
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_verbose = on;
SET auto_explain.log_format = json;
SET auto_explain.log_level = notice;
SET client_min_messages = notice;
SELECT allot.set_path('voucher:V2', 'slow');
SELECT granted FROM allot.redeem('00000000-0000-0000-0000-000000000001',
                                 ARRAY['voucher:V1', 'user:U1', 'shop:S1']);
SELECT granted FROM allot.redeem('00000000-0000-0000-0000-000000000002',
                                 ARRAY['voucher:V2', 'user:U2', 'shop:S2']);
INSERT INTO allot.events (txn, at, kind, keys, amount, path, detail)
SELECT '00000000-0000-0000-0000-0000000000f1', now(), 'grant', '{voucher:V9}', 1, 'fast',
       jsonb_build_object('counted', jsonb_build_array(
         jsonb_build_array('voucher:V9', l.id, '-infinity', 'f')))
  FROM allot.limits l WHERE l.scope = 'voucher:*';
SELECT count(*) FILTER (WHERE granted) FROM allot.redeem_many(
  '[{"txn": "00000000-0000-0000-0000-000000000003", "keys": ["voucher:V3", "user:U3", "shop:S3"]},
    {"txn": "00000000-0000-0000-0000-000000000004", "keys": ["voucher:V2", "user:U4", "shop:S4"]}]');
SELECT allot.reverse('00000000-0000-0000-0000-000000000002');
SELECT events FROM allot.rollup();
SQL

# The statements whose plans went wrong, each seen at least once.
seen() { grep -c -- "$1" "$plans" || true; }
check "plans: counters of the keys being loaded" "$(seen 'unnest($1::text\[\], $2::int8\[\], $3::timestamptz\[\], $4::timestamptz\[\])')" 1 -ge
check "plans: the reversal's counters" "$(seen 'SET used = c.used - u.n')" 1 -ge
check "plans: the fold" "$(seen 'SELECT x.key, x.limit_id, x.window_start')" 1 -ge
check "plans: the rates of slow-path keys" "$(seen 'INSERT INTO allot.key_activity')" 1 -ge

# A parameter array read as the inner side of a join: a Function Scan whose
# call names a parameter ($1, ...) under "Parent Relationship": "Inner".
# (Functions of the outer row, jsonb_array_elements(ev.detail) and the like,
# are inner by nature and name no parameter.)
inner_arrays="$(awk '
    /"Node Type":/           { type = $0; rel = "" }
    /"Parent Relationship":/ { rel = $0 }
    /"Function Call":/ && type ~ /"Function Scan"/ && rel ~ /"Inner"/ && $0 ~ /\$[0-9]/ { n++ }
    END { print n + 0 }' "$plans")"
check "joins that read a parameter array as the inner side" "$inner_arrays" 0
check "statements with errors" "$(grep -c '^ERROR\|ERROR:' "$plans" || true)" 0

if [ "$CHECK_FAILS" -ne 0 ]; then
    grep -B2 -A12 '"Parent Relationship": "Inner"' "$plans" | grep -B6 -A6 'unnest(\$' | head -60 || true
    echo "FAIL: stale_statistics ($CHECK_FAILS checks failed)"
    exit 1
fi
echo "PASS: stale_statistics"
