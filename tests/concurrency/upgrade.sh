#!/usr/bin/env bash
# Extension upgrades 0.1 -> 0.2 -> 0.3 -> 0.4 -> 0.5 (sql/pg_allot--0.1--0.2.sql,
# sql/pg_allot--0.2--0.3.sql, sql/pg_allot--0.3--0.4.sql,
# sql/pg_allot--0.4--0.5.sql) keep the data and
# end in the same schema as a fresh install of each version.
#
#   1. A database at 0.1 (CREATE EXTENSION pg_allot VERSION '0.1') gets
#      limits (a total, a class per day, a sliding class, one set and
#      dropped), grants, a denial, a reversal with a reason, a replay, and
#      a grant whose event was deleted afterwards (a pruned log; 0.1 kept
#      it in allot.txns).
#   2. ALTER EXTENSION pg_allot UPDATE TO '0.2'; in the same transaction
#      (so that no rollup runs in between) limits, counters, events, txns,
#      entities, usage and the rollup watermark are read again and must
#      equal what 0.1 showed; the deleted grant event is restored.
#   3. The schema (catalog description of schema allot: tables, columns,
#      defaults, constraints, indexes, views, functions with language,
#      volatility, SECURITY DEFINER and settings, triggers, types, ACLs,
#      comments, extension membership, initial privileges, dependencies)
#      equals a fresh CREATE EXTENSION pg_allot VERSION '0.2' in another
#      database; a diff is shown when it does not.
#   4. 0.2 answers for 0.1's txns: a replay is replayed = t and counts
#      nothing, other keys or amount raise 23505, the reversed txn shows
#      reversed_at in allot.txns and cannot be reversed again, a 0.1 grant
#      can be reversed now; after allot.rollup(), allot.verify() and
#      allot.violations are empty; new redemptions respect the 0.1 limits.
#   5. A 0.1 log the unique indexes cannot hold (two grant events for one
#      txn) or that disagrees with allot.txns makes the update fail with
#      its message, and the database stays at 0.1.
#   6. The database of 1-4, ALTER EXTENSION pg_allot UPDATE TO '0.3':
#      txns, usage and verify() read the same; the schema equals a fresh
#      0.3 install.
#   7. ALTER EXTENSION pg_allot UPDATE TO '0.4': the same again against a
#      fresh 0.4 install; then the retention functions work on the updated data
#      (archive everything folded, then txns, usage and verify() unchanged,
#      a 0.1 grant reversed from the archive).
#   8. ALTER EXTENSION pg_allot UPDATE TO '0.5', with an archive partition:
#      the same against a fresh 0.5 install (archive partitions left out);
#      the partition keeps an index on txn, every data table is registered
#      for pg_dump, and a grant archived under 0.5 is reversed from the
#      archive (tests/concurrency/dump_restore.sh dumps and restores).
#
# The 0.1 library is not installed next to 0.2: 0.1's SQL functions bind
# to the one pg_allot.so, and the 0.2 library's allot.redeem/allot.reverse
# fail on a 0.1 schema (they use allot.entity_state, the unique indexes on
# allot.events, rollup_state.unfolded_possible). When that is so (checked
# first), the 0.1 grants, denials and reversals are written by pg_temp
# functions that do what 0.1's C code does (main: extension/pg/store.cpp,
# engine.cpp): the same rows in allot.entities, allot.txns, allot.counters
# and allot.events, the same JSON in detail. With a library that can still
# redeem on a 0.1 schema, the real functions are used.
#
# Env: PGHOST/PGPORT/PGUSER (and PGDATABASE, the maintenance database) of a
# server where pg_allot, its 0.1 and 0.2 scripts and the 0.1--0.2 update
# script are installed; without PGHOST/PGPORT it starts its own throwaway
# cluster with the preload. Works with and without the preload. Exit 0 =
# pass. The test databases are dropped on success and kept on failure.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../harness/lib.sh"
ensure_cluster

DB=allot_upgrade
DB_FRESH=allot_upgrade_fresh
DB_BAD=allot_upgrade_bad
DB_FRESH3=allot_upgrade_fresh3
MAINT="${PGDATABASE:-postgres}"
work="$(mktemp -d)"
add_cleanup "rm -rf '$work'"

T1=00000000-0000-4000-8000-000000000001  # granted in 0.1, replayed, reversed in 0.2
T2=00000000-0000-4000-8000-000000000002  # granted and reversed in 0.1
T3=00000000-0000-4000-8000-000000000003  # granted in 0.1
T4=00000000-0000-4000-8000-000000000004  # denied in 0.1, retried in 0.2
T5=00000000-0000-4000-8000-000000000005  # granted in 0.1 after the reversal
T6=00000000-0000-4000-8000-000000000006  # granted in 0.1 on a sliding limit
T7=00000000-0000-4000-8000-000000000007  # granted in 0.1; its event deleted
N1=00000000-0000-4000-8000-0000000000a1  # new in 0.2
N2=00000000-0000-4000-8000-0000000000a2
N3=00000000-0000-4000-8000-0000000000a3
N4=00000000-0000-4000-8000-0000000000a4

echo "upgrade: server ${PGHOST}:${PGPORT}, preload=$(q -d "$MAINT" -c 'SHOW shared_preload_libraries')"

update_path="$(qv "$MAINT" "SELECT coalesce(path, '<none>') FROM pg_extension_update_paths('pg_allot') WHERE source = '0.1' AND target = '0.2'")"
if [ "$update_path" != "0.1--0.2" ]; then
    echo "FAIL: upgrade: the update path 0.1 -> 0.2 is '$update_path', want the script 0.1--0.2" \
        "(is sql/pg_allot--0.1--0.2.sql installed in $("$PG_CONFIG" --sharedir)/extension?)"
    exit 1
fi

# WITH (FORCE): the rollup worker (preload) may be connected to them.
for d in "$DB" "$DB_FRESH" "$DB_BAD" "$DB_FRESH3" "${DB_FRESH3}_4" "${DB_FRESH3}_5"; do
    q -d "$MAINT" -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" -c "CREATE DATABASE $d"
done

#------------------------------------------------------------------------------
# What 0.1's C code writes, for the case where the installed library cannot
# redeem on a 0.1 schema. One request at a time, slow path, enforce limits
# (the test sets no shadow limit), allot.log_denials on.
#------------------------------------------------------------------------------
cat >"$work/v01.sql" <<'EOF'
SET client_min_messages = warning;
-- format_timestamp() of 0.1 (convert.cpp)
CREATE FUNCTION pg_temp.v01_ts(ts timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN ts = '-infinity' THEN '-infinity' WHEN ts = 'infinity' THEN 'infinity'
              ELSE to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' END $$;

-- One row per (request key, applicable limit): 0.1's applicable_rules and
-- place(): used in the current window, and the window start counted.
CREATE FUNCTION pg_temp.v01_checks(p_keys text[], p_at timestamptz)
RETURNS TABLE (ord bigint, key text, limit_id bigint, max bigint, mode text, used bigint,
               counted_start timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT k.ord, k.key, l.id, l.max, l.mode,
         coalesce((SELECT sum(c.used) FROM allot.counters c
                    WHERE c.key = k.key AND c.limit_id = l.id
                      AND c.window_start >= w.rows_from AND c.window_start < w.rows_to), 0)::bigint,
         CASE WHEN l.per IS NULL THEN coalesce(lower(l.valid), '-infinity')
              WHEN NOT l.sliding THEN w.window_start
              ELSE a.anchor + (floor(extract(epoch FROM p_at - a.anchor) / (extract(epoch FROM l.per) / 60))
                               * (extract(epoch FROM l.per) / 60))::float8 * interval '1 second' END
    FROM unnest(p_keys) WITH ORDINALITY AS k(key, ord)
    JOIN allot.limits l
      ON l.valid @> p_at
     AND (l.scope = k.key
          OR (l.scope = regexp_replace(k.key, ':[^/]*', ':*', 'g')
              AND NOT EXISTS (SELECT 1 FROM allot.limits x
                               WHERE x.scope = k.key AND x.valid @> p_at AND x.sliding = l.sliding
                                 AND allot._per_identity(x.per) = allot._per_identity(l.per))))
   CROSS JOIN LATERAL allot._current_window(l.per, l.sliding, l.valid, p_at) w
   CROSS JOIN LATERAL (SELECT coalesce(lower(l.valid), '2000-01-01 00:00:00+00'::timestamptz) AS anchor) a
   ORDER BY k.ord, l.id
$$;

CREATE TEMP TABLE v01_c (ord bigint, key text, limit_id bigint, max bigint, mode text, used bigint,
                         counted_start timestamptz);

CREATE FUNCTION pg_temp.v01_redeem(p_txn uuid, p_keys text[], p_amount bigint DEFAULT 1)
RETURNS allot.decision LANGUAGE plpgsql AS $$
DECLARE
  now_ timestamptz := allot._now();
  sorted text[] := ARRAY(SELECT k FROM unnest(p_keys) k ORDER BY k COLLATE "C");
  stored allot.txns;
  denied text[];
  counted jsonb;
BEGIN
  TRUNCATE pg_temp.v01_c;
  INSERT INTO pg_temp.v01_c SELECT * FROM pg_temp.v01_checks(p_keys, now_);
  -- lock_entities: the limited keys, in bytewise order
  INSERT INTO allot.entities AS e (key, last_seen)
  SELECT k, now_ FROM (SELECT DISTINCT c.key AS k FROM pg_temp.v01_c c) s ORDER BY k COLLATE "C"
  ON CONFLICT (key) DO UPDATE SET last_seen = e.last_seen WHERE false;
  SELECT * INTO stored FROM allot.txns t WHERE t.txn = p_txn;
  IF FOUND THEN
    IF stored.keys IS DISTINCT FROM sorted OR stored.amount <> p_amount THEN
      RAISE EXCEPTION 'txn % was already granted with different keys or amount', p_txn
        USING ERRCODE = 'unique_violation';
    END IF;
    RETURN ROW(true, true, stored.path, '{}'::text[], NULL::interval)::allot.decision;
  END IF;
  denied := ARRAY(SELECT c.key FROM pg_temp.v01_c c WHERE c.mode = 'enforce' AND c.used + p_amount > c.max
                   GROUP BY c.key ORDER BY min(c.ord));
  IF cardinality(denied) > 0 THEN
    INSERT INTO allot.events (txn, at, kind, keys, amount, path, detail)
    SELECT p_txn, now_, 'deny', p_keys, p_amount, 'slow',
           jsonb_build_object('denied', jsonb_agg(jsonb_build_object('key', c.key, 'limit_id', c.limit_id,
                                                                     'used', c.used, 'max', c.max)
                                                  ORDER BY c.ord, c.limit_id))
      FROM pg_temp.v01_c c WHERE c.mode = 'enforce' AND c.used + p_amount > c.max;
    RETURN ROW(false, false, 'slow', denied, NULL::interval)::allot.decision;
  END IF;
  counted := coalesce((SELECT jsonb_agg(jsonb_build_array(c.key, c.limit_id, pg_temp.v01_ts(c.counted_start))
                                        ORDER BY c.ord, c.limit_id) FROM pg_temp.v01_c c), '[]');
  INSERT INTO allot.txns (txn, keys, amount, path, granted_at, counted)
  VALUES (p_txn, sorted, p_amount, 'slow', now_, counted);
  INSERT INTO allot.counters AS c (key, limit_id, window_start, used)
  SELECT x.key, x.limit_id, x.counted_start, p_amount FROM pg_temp.v01_c x
  ON CONFLICT (key, limit_id, window_start) DO UPDATE SET used = c.used + EXCLUDED.used;
  INSERT INTO allot.events (txn, at, kind, keys, amount, path, detail)
  VALUES (p_txn, now_, 'grant', p_keys, p_amount, 'slow', jsonb_build_object('counted', counted));
  RETURN ROW(true, false, 'slow', '{}'::text[], NULL::interval)::allot.decision;
END $$;

CREATE FUNCTION pg_temp.v01_reverse(p_txn uuid, p_reason text DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  now_ timestamptz := allot._now();
  g allot.txns;
BEGIN
  SELECT * INTO g FROM allot.txns t WHERE t.txn = p_txn FOR UPDATE;
  IF NOT FOUND OR g.reversed_at IS NOT NULL THEN RETURN false; END IF;
  INSERT INTO allot.entities AS e (key, last_seen)
  SELECT DISTINCT c->>0, now_ FROM jsonb_array_elements(g.counted) c ORDER BY 1
  ON CONFLICT (key) DO UPDATE SET last_seen = e.last_seen WHERE false;
  UPDATE allot.counters AS k SET used = k.used - g.amount
    FROM jsonb_array_elements(g.counted) c
   WHERE k.key = c->>0 AND k.limit_id = (c->>1)::bigint AND k.window_start = (c->>2)::timestamptz;
  UPDATE allot.txns SET reversed_at = now_, reverse_reason = p_reason WHERE txn = p_txn;
  INSERT INTO allot.events (txn, at, kind, keys, amount, path, detail)
  VALUES (p_txn, now_, 'reverse', g.keys, g.amount, g.path,
          jsonb_strip_nulls(jsonb_build_object('counted', g.counted, 'reason', p_reason)));
  RETURN true;
END $$;
RESET client_min_messages;
EOF

q -d "$DB" -c "CREATE EXTENSION pg_allot VERSION '0.1'" >/dev/null
if q -d "$DB" -c 'BEGIN' -c "SELECT allot.redeem(gen_random_uuid(), ARRAY['probe:P'])" -c 'ROLLBACK' \
    >/dev/null 2>"$work/probe.err"; then
    REDEEM=allot.redeem REVERSE=allot.reverse
    echo "0.1 phase: allot.redeem works on the 0.1 schema with this library; using it"
else
    REDEEM=pg_temp.v01_redeem REVERSE=pg_temp.v01_reverse
    echo "0.1 phase: allot.redeem of this library fails on a 0.1 schema ($(grep -m1 ERROR "$work/probe.err" || echo '?'));" \
        "writing 0.1's rows with pg_temp.v01_redeem / v01_reverse"
fi

#------------------------------------------------------------------------------
# 1. Life under 0.1 (one session: the pg_temp functions live in it)
#------------------------------------------------------------------------------
cat >"$work/phase01.sql" <<EOF
\\i $work/v01.sql
SELECT 'limit', allot.set_limit('voucher:V1', 5);
SELECT 'limit', allot.set_limit('user:*', 2, '1 day');
SELECT 'limit', allot.set_limit('card:*', 10, '1 hour', sliding => true);
SELECT 'limit', allot.set_limit('shop:S1', 3);
SELECT 'dropped', allot.drop_limit('shop:S1');
SELECT 'limit', allot.set_limit('voucher:V2', 10);
BEGIN;
SELECT 'T1', granted, replayed, denied_keys FROM $REDEEM('$T1', ARRAY['voucher:V1', 'user:U1', 'shop:S9'], 1);
COMMIT;
SELECT 'T2', granted, replayed, denied_keys FROM $REDEEM('$T2', ARRAY['user:U2', 'voucher:V1'], 2);
SELECT 'T3', granted, replayed, denied_keys FROM $REDEEM('$T3', ARRAY['voucher:V1', 'user:U1'], 1);
SELECT 'T4', granted, replayed, denied_keys FROM $REDEEM('$T4', ARRAY['voucher:V1', 'user:U1'], 1);
SELECT 'T2-reverse', $REVERSE('$T2', 'refund');
SELECT 'T5', granted, replayed, denied_keys FROM $REDEEM('$T5', ARRAY['voucher:V1'], 1);
SELECT 'T6', granted, replayed, denied_keys FROM $REDEEM('$T6', ARRAY['card:C1'], 4);
SELECT 'T7', granted, replayed, denied_keys FROM $REDEEM('$T7', ARRAY['voucher:V2'], 3);
SELECT 'T1-replay', granted, replayed, denied_keys FROM $REDEEM('$T1', ARRAY['shop:S9', 'user:U1', 'voucher:V1'], 1);
SELECT 'rollup', events FROM allot.rollup();
-- A pruned log: T7's grant event is gone, allot.txns still has its row.
DELETE FROM allot.events WHERE txn = '$T7';
EOF
if ! q -d "$DB" -F ' ' -f "$work/phase01.sql" >"$work/phase01.out" 2>&1; then
    cat "$work/phase01.out"
    echo "FAIL: upgrade: the 0.1 phase failed (database $DB kept)"
    exit 1
fi
sed 's/^/  0.1: /' "$work/phase01.out"
field() { awk -v k="$1" -v n="$2" '$1 == k { print $n; exit }' "$work/phase01.out"; }
check "0.1: T1 granted" "$([ "$(field T1 2)" = t ] && echo 1 || echo 0)" 1
check "0.1: T4 denied" "$([ "$(field T4 2)" = f ] && echo 1 || echo 0)" 1
check "0.1: T2 reversed" "$([ "$(field T2-reverse 2)" = t ] && echo 1 || echo 0)" 1
check "0.1: T1 replayed" "$([ "$(field T1-replay 3)" = t ] && echo 1 || echo 0)" 1
check "0.1: T6 granted (sliding)" "$([ "$(field T6 2)" = t ] && echo 1 || echo 0)" 1

# What must come through the update unchanged. allot.txns and
# allot.entities are tables before and views after; the columns read are
# the ones both have. Events restored by the update are left out here.
# Usage is read at one pinned time (a sliding window's start moves).
clock="$(qv "$MAINT" 'SELECT now()')"
cat >"$work/snapshot.sql" <<EOF
SET allot.clock_override = '$clock';
SELECT 'limit', l.id, l.scope, l.max, l.per, l.sliding, l.valid, l.mode, l.created_at, l.updated_at
  FROM allot.limits l ORDER BY l.id;
SELECT 'limits_id_seq', last_value, is_called FROM allot.limits_id_seq;
SELECT 'counter', c.key, c.limit_id, c.window_start, c.used FROM allot.counters c ORDER BY 2, 3, 4;
SELECT 'event', e.seq, e.txn, e.at, e.kind, e.keys, e.amount, e.path, e.detail
  FROM allot.events e WHERE NOT e.detail ? 'restored' ORDER BY e.seq;
SELECT 'txn', t.txn, t.keys, t.amount, t.path, t.granted_at, t.counted, t.reversed_at, t.reverse_reason
  FROM allot.txns t ORDER BY t.txn;
SELECT 'entity', en.key, en.path, en.rate, en.last_seen, en.path_changed_at FROM allot.entities en ORDER BY 2;
SELECT 'usage', u.key, u.limit_id, u.used, u.max, u.remaining, u.window_start, u.path, u.rate
  FROM allot.usage u ORDER BY 2, 3;
SELECT 'rollup_state', r.last_seq, r.last_at, r.rollups FROM allot.rollup_state r;
RESET allot.clock_override;
EOF
q -d "$DB" -F ' ' -f "$work/snapshot.sql" >"$work/before.txt"
verify_before="$(qv "$DB" 'SELECT count(*) FROM allot.verify()')"
echo "0.1 state: $(grep -c '^txn ' "$work/before.txt") txns, $(grep -c '^event ' "$work/before.txt") events," \
    "$(grep -c '^counter ' "$work/before.txt") counters; allot.verify() rows (T7's event deleted): $verify_before"

#------------------------------------------------------------------------------
# 2. The update, and the same reads in its transaction
#------------------------------------------------------------------------------
if ! q -d "$DB" -F ' ' -c 'BEGIN' -c "ALTER EXTENSION pg_allot UPDATE TO '0.2'" \
        -f "$work/snapshot.sql" \
        -c "SELECT 'restored', e.kind, e.txn, e.keys, e.amount FROM allot.events e WHERE e.detail ? 'restored' ORDER BY e.seq" \
        -c 'COMMIT' >"$work/after_all.txt" 2>"$work/update.err"; then
    cat "$work/update.err"
    echo "FAIL: upgrade: ALTER EXTENSION pg_allot UPDATE TO '0.2' failed (database $DB kept)"
    exit 1
fi
sed 's/^/  update says: /' "$work/update.err"
grep -v '^restored ' "$work/after_all.txt" >"$work/after.txt" || true
version="$(qv "$DB" "SELECT extversion FROM pg_extension WHERE extname = 'pg_allot'")"
check "extension version after the update is 0.2" "$([ "$version" = 0.2 ] && echo 1 || echo 0)" 1
data_diff="$(diff "$work/before.txt" "$work/after.txt" || true)"
check "data read before = after the update (diff lines)" "$(printf '%s' "$data_diff" | grep -c '^[<>]' || true)" 0
if [ -n "$data_diff" ]; then printf '%s\n' "$data_diff" | head -40 | sed 's/^/    /'; fi
for kind in limit counter event txn entity usage; do
    check "  $kind rows before the update" "$(grep -c "^$kind " "$work/before.txt" || true)" 1 -ge
done
check "grant events restored from allot.txns (T7)" \
    "$(grep -c "^restored grant $T7 {voucher:V2} 3\$" "$work/after_all.txt" || true)" 1
check "other events added by the update" "$(grep '^restored ' "$work/after_all.txt" | grep -vc " $T7 " || true)" 0

#------------------------------------------------------------------------------
# 3. Same schema as a fresh 0.2 install
#------------------------------------------------------------------------------
q -d "$DB_FRESH" -c "CREATE EXTENSION pg_allot VERSION '0.2'" >/dev/null
cat >"$work/describe.sql" <<'EOF'
WITH ext AS (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'pg_allot'),
nsp AS (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'allot'),
members AS (
  SELECT d.classid, d.objid, d.objsubid FROM pg_catalog.pg_depend d, ext
   WHERE d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
)
SELECT line FROM (
  SELECT format('extension %s version=%s relocatable=%s schema=%s config=%s', e.extname, e.extversion, e.extrelocatable,
                e.extnamespace::regnamespace,
                coalesce((SELECT array_agg(c::regclass::text ORDER BY c::regclass::text) FROM unnest(e.extconfig) c)::text, '-'))
    FROM pg_catalog.pg_extension e, ext WHERE e.oid = ext.oid
  UNION ALL
  SELECT format('schema %s owner=%s acl=%s comment=%s', n.nspname, pg_get_userbyid(n.nspowner),
                coalesce(n.nspacl::text, '-'), coalesce(obj_description(n.oid, 'pg_namespace'), '-'))
    FROM pg_catalog.pg_namespace n, nsp WHERE n.oid = nsp.oid
  UNION ALL
  SELECT format('relation %s kind=%s persistence=%s owner=%s options=%s acl=%s rls=%s/%s replident=%s comment=%s',
                c.relname, c.relkind, c.relpersistence, pg_get_userbyid(c.relowner), coalesce(c.reloptions::text, '-'),
                coalesce(c.relacl::text, '-'), c.relrowsecurity, c.relforcerowsecurity, c.relreplident,
                coalesce(obj_description(c.oid, 'pg_class'), '-'))
    FROM pg_catalog.pg_class c, nsp WHERE c.relnamespace = nsp.oid
  UNION ALL
  SELECT format('column %s.%s #%s %s notnull=%s default=%s identity=%s generated=%s collation=%s storage=%s acl=%s comment=%s',
                c.relname, a.attname, a.attnum, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                coalesce(pg_get_expr(ad.adbin, ad.adrelid), '-'), a.attidentity, a.attgenerated,
                coalesce(co.collname, '-'), a.attstorage, coalesce(a.attacl::text, '-'),
                coalesce(col_description(c.oid, a.attnum), '-'))
    FROM pg_catalog.pg_class c JOIN nsp ON c.relnamespace = nsp.oid
    JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
    LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
  UNION ALL
  SELECT format('constraint %s.%s %s deferrable=%s/%s comment=%s', c.relname, k.conname, pg_get_constraintdef(k.oid),
                k.condeferrable, k.condeferred, coalesce(obj_description(k.oid, 'pg_constraint'), '-'))
    FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid JOIN nsp ON c.relnamespace = nsp.oid
  UNION ALL
  SELECT format('index %s', pg_get_indexdef(i.indexrelid))
    FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indrelid JOIN nsp ON c.relnamespace = nsp.oid
  UNION ALL
  SELECT format('view %s: %s', c.relname, pg_get_viewdef(c.oid))
    FROM pg_catalog.pg_class c JOIN nsp ON c.relnamespace = nsp.oid WHERE c.relkind IN ('v', 'm')
  UNION ALL
  SELECT format('sequence %s type=%s start=%s inc=%s min=%s max=%s cache=%s cycle=%s', c.relname, s.seqtypid::regtype,
                s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle)
    FROM pg_catalog.pg_sequence s JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid JOIN nsp ON c.relnamespace = nsp.oid
  UNION ALL
  SELECT format('trigger %s enabled=%s', pg_get_triggerdef(t.oid), t.tgenabled)
    FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid JOIN nsp ON c.relnamespace = nsp.oid
   WHERE NOT t.tgisinternal
  UNION ALL
  SELECT format('rule %s.%s %s', c.relname, r.rulename, pg_get_ruledef(r.oid))
    FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class JOIN nsp ON c.relnamespace = nsp.oid
   WHERE r.rulename <> '_RETURN'
  UNION ALL
  SELECT format('policy %s.%s %s', c.relname, p.polname, p.polcmd)
    FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid JOIN nsp ON c.relnamespace = nsp.oid
  UNION ALL
  SELECT format('type %s type=%s owner=%s acl=%s comment=%s', t.typname, t.typtype, pg_get_userbyid(t.typowner),
                coalesce(t.typacl::text, '-'), coalesce(obj_description(t.oid, 'pg_type'), '-'))
    FROM pg_catalog.pg_type t, nsp WHERE t.typnamespace = nsp.oid
  UNION ALL
  -- pg_get_functiondef: arguments, result, language, volatility, parallel,
  -- SECURITY DEFINER, SET search_path and the body or C symbol
  SELECT format('function %s owner=%s cost=%s rows=%s leakproof=%s strict=%s acl=%s comment=%s probin=%s%s%s',
                p.oid::regprocedure, pg_get_userbyid(p.proowner), p.procost, p.prorows, p.proleakproof, p.proisstrict,
                coalesce(p.proacl::text, '-'), coalesce(obj_description(p.oid, 'pg_proc'), '-'), coalesce(p.probin, '-'),
                E'\n', pg_get_functiondef(p.oid))
    FROM pg_catalog.pg_proc p, nsp WHERE p.pronamespace = nsp.oid
  UNION ALL
  SELECT 'member ' || pg_describe_object(m.classid, m.objid, m.objsubid) FROM members m
  UNION ALL
  -- what pg_dump takes as the extension's own privileges
  SELECT format('init-privilege %s %s %s', pg_describe_object(i.classoid, i.objoid, i.objsubid), i.privtype, i.initprivs)
    FROM pg_catalog.pg_init_privs i
   WHERE (i.classoid, i.objoid) IN (SELECT m.classid, m.objid FROM members m)
  UNION ALL
  SELECT format('depends %s -> %s (%s)', pg_describe_object(d.classid, d.objid, d.objsubid),
                pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid), d.deptype)
    FROM pg_catalog.pg_depend d
   WHERE d.deptype IN ('n', 'a', 'i')
     AND ((d.classid = 'pg_catalog.pg_class'::regclass
           AND d.objid IN (SELECT c.oid FROM pg_catalog.pg_class c, nsp WHERE c.relnamespace = nsp.oid))
       OR (d.classid = 'pg_catalog.pg_proc'::regclass
           AND d.objid IN (SELECT p.oid FROM pg_catalog.pg_proc p, nsp WHERE p.pronamespace = nsp.oid))
       OR (d.classid = 'pg_catalog.pg_type'::regclass
           AND d.objid IN (SELECT t.oid FROM pg_catalog.pg_type t, nsp WHERE t.typnamespace = nsp.oid))
       OR (d.classid = 'pg_catalog.pg_constraint'::regclass
           AND d.objid IN (SELECT k.oid FROM pg_catalog.pg_constraint k, nsp WHERE k.connamespace = nsp.oid))
       OR (d.classid = 'pg_catalog.pg_rewrite'::regclass
           AND d.objid IN (SELECT r.oid FROM pg_catalog.pg_rewrite r
                             JOIN pg_catalog.pg_class c ON c.oid = r.ev_class, nsp WHERE c.relnamespace = nsp.oid))
       OR (d.classid = 'pg_catalog.pg_trigger'::regclass
           AND d.objid IN (SELECT t.oid FROM pg_catalog.pg_trigger t
                             JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid, nsp WHERE c.relnamespace = nsp.oid))
       OR (d.classid = 'pg_catalog.pg_attrdef'::regclass
           AND d.objid IN (SELECT ad.oid FROM pg_catalog.pg_attrdef ad
                             JOIN pg_catalog.pg_class c ON c.oid = ad.adrelid, nsp WHERE c.relnamespace = nsp.oid)))
) x(line)
ORDER BY line COLLATE "C";
EOF
# compare_schema VERSION FRESH_DB UPDATED_LABEL: the catalog description of
# $DB equals that of FRESH_DB (a fresh install of VERSION); a diff is shown
# when it does not.
compare_schema() {
    local version="$1" fresh_db="$2" updated_label="$3" diff_text
    # Archive partitions (allot.events_archive_YYYYMMDD) are data, made by
    # allot.archive_events(), not part of the extension's schema.
    q -d "$fresh_db" -f "$work/describe.sql" | grep -Ev 'events_archive_[0-9]{8}' >"$work/schema_fresh_$version.txt"
    q -d "$DB" -f "$work/describe.sql" | grep -Ev 'events_archive_[0-9]{8}' >"$work/schema_updated_$version.txt"
    diff_text="$(diff -u --label "fresh $version ($fresh_db)" --label "$updated_label ($DB)" \
        "$work/schema_fresh_$version.txt" "$work/schema_updated_$version.txt" || true)"
    check "catalog lines describing schema allot (fresh $version)" \
        "$(grep -c '' "$work/schema_fresh_$version.txt")" 100 -ge
    check "schema differences from a fresh $version install" \
        "$(printf '%s' "$diff_text" | grep -c '^[-+][^-+]' || true)" 0
    if [ -n "$diff_text" ]; then printf '%s\n' "$diff_text" | head -80 | sed 's/^/    /'; fi
}
compare_schema 0.2 "$DB_FRESH" "0.1 updated to 0.2"

#------------------------------------------------------------------------------
# 4. 0.2 answers for 0.1's txns, and goes on from 0.1's counts
#------------------------------------------------------------------------------
dec() {  # dec NAME TXN KEYS AMOUNT -> "granted replayed denied_keys retry_after_is_null"
    qv "$DB" "SELECT granted, replayed, denied_keys, retry_after IS NULL FROM allot.redeem('$2', '$3', $4)"
}
used_sum() { qv "$DB" "SELECT coalesce(sum(used), 0) FROM allot.usage WHERE key = '$1'"; }
events_n() { qv "$DB" 'SELECT count(*) FROM allot.events'; }

ev0="$(events_n)"; v1_0="$(used_sum voucher:V1)"; u1_0="$(used_sum user:U1)"
r="$(dec replay "$T1" '{user:U1,shop:S9,voucher:V1}' 1)"
check "replay of 0.1 txn T1: granted and replayed" "$([ "$r" = "t t {} t" ] && echo 1 || echo 0)" 1
[ "$r" = "t t {} t" ] || echo "    T1 replay returned: $r"
check "  voucher:V1 used after the replay" "$(used_sum voucher:V1)" "$v1_0"
check "  user:U1 used after the replay" "$(used_sum user:U1)" "$u1_0"
check "  events added by the replay" "$(($(events_n) - ev0))" 0
conflict="$(q -d "$DB" -v VERBOSITY=verbose -c "SELECT allot.redeem('$T1', '{user:U1,shop:S9,voucher:V1}', 2)" 2>&1 >/dev/null || true)"
check "T1 again with another amount raises 23505" "$(grep -c '23505' <<<"$conflict" || true)" 1 -ge
r="$(dec replay "$T7" '{voucher:V2}' 3)"
check "replay of T7 (its grant event restored)" "$([ "$r" = "t t {} t" ] && echo 1 || echo 0)" 1
check "T2 shows reversed_at and its reason in allot.txns" \
    "$(qv "$DB" "SELECT count(*) FROM allot.txns WHERE txn = '$T2' AND reversed_at IS NOT NULL AND reverse_reason = 'refund'")" 1
check "T2 cannot be reversed again (false)" \
    "$([ "$(qv "$DB" "SELECT allot.reverse('$T2')")" = f ] && echo 1 || echo 0)" 1
check "usage: voucher:V1 used = 3 (T1 + T3 + T5)" "$(used_sum voucher:V1)" 3
check "usage: user:U1 used = 2 (T1 + T3)" "$(used_sum user:U1)" 2
check "usage: user:U2 used = 0 (T2 reversed)" "$(used_sum user:U2)" 0
check "usage: card:C1 used = 4 (T6, sliding)" "$(used_sum card:C1)" 4
check "usage: voucher:V2 used = 3 (T7)" "$(used_sum voucher:V2)" 3

q -d "$DB" -c 'SELECT * FROM allot.rollup()' >/dev/null
check "allot.verify() rows after the update and a rollup" "$(qv "$DB" 'SELECT count(*) FROM allot.verify()')" 0
check "allot.violations rows after the update and a rollup" "$(qv "$DB" 'SELECT count(*) FROM allot.violations')" 0

r="$(dec retry "$T4" '{voucher:V1,user:U1}' 1)"
check "T4 (denied in 0.1) retried: denied on user:U1" "$([ "$r" = "f f {user:U1} f" ] && echo 1 || echo 0)" 1
[ "$r" = "f f {user:U1} f" ] || echo "    T4 retry returned: $r"
check "reverse 0.1 txn T1 now (true)" "$([ "$(qv "$DB" "SELECT allot.reverse('$T1', 'after upgrade')")" = t ] && echo 1 || echo 0)" 1
r="$(dec retry "$T4" '{voucher:V1,user:U1}' 1)"
check "T4 retried after T1's reversal: granted" "$([ "$r" = "t f {} t" ] && echo 1 || echo 0)" 1
r="$(dec new "$N1" '{voucher:V1,user:U3}' 2)"
check "N1 (2 units, voucher:V1 3 -> 5 of 5): granted" "$([ "$r" = "t f {} t" ] && echo 1 || echo 0)" 1
r="$(dec new "$N2" '{voucher:V1}' 1)"
check "N2 (voucher:V1 full): denied, no retry_after" "$([ "$r" = "f f {voucher:V1} t" ] && echo 1 || echo 0)" 1
[ "$r" = "f f {voucher:V1} t" ] || echo "    N2 returned: $r"
r="$(dec new "$N3" '{card:C1}' 6)"
check "N3 (6 more on card:C1 sliding, 4 -> 10 of 10): granted" "$([ "$r" = "t f {} t" ] && echo 1 || echo 0)" 1
r="$(dec new "$N4" '{card:C1}' 1)"
check "N4 (card:C1 full): denied" "$([ "${r%% *}" = f ] && echo 1 || echo 0)" 1
max_id="$(awk '$1 == "limit" { print $2 }' "$work/before.txt" | sort -n | tail -1)"
seq_before="$(awk '$1 == "limits_id_seq" { print $2 }' "$work/before.txt")"
new_id="$(qv "$DB" "SELECT allot.set_limit('voucher:V3', 1)")"
check "a new limit's id comes after the 0.1 sequence ($seq_before)" "$new_id" "$((seq_before + 1))" -ge
check "  and after every 0.1 limit id ($max_id)" "$new_id" "$((max_id + 1))" -ge
check "0.1 limit ids still there after the update" \
    "$(qv "$DB" "SELECT count(*) FROM allot.limits WHERE id <= $max_id")" "$(grep -c '^limit ' "$work/before.txt")"

q -d "$DB" -c 'SELECT * FROM allot.rollup()' >/dev/null
check "usage: voucher:V1 used = 5 (its 0.1 max)" "$(used_sum voucher:V1)" 5
check "usage: user:U1 used = 2 (T3 + T4)" "$(used_sum user:U1)" 2
check "usage: card:C1 used = 10 (its 0.1 max)" "$(used_sum card:C1)" 10
check "allot.verify() rows at the end" "$(qv "$DB" 'SELECT count(*) FROM allot.verify()')" 0
check "allot.violations rows at the end" "$(qv "$DB" 'SELECT count(*) FROM allot.violations')" 0
check "grant events in allot.events per txn: at most 1" \
    "$(qv "$DB" "SELECT coalesce(max(n), 0) FROM (SELECT count(*) n FROM allot.events WHERE kind = 'grant' GROUP BY txn) s")" 1 -le

#------------------------------------------------------------------------------
# 5. A 0.1 log the update cannot take: it stops, and nothing changes
#------------------------------------------------------------------------------
q -d "$DB_BAD" -c "CREATE EXTENSION pg_allot VERSION '0.1'" >/dev/null
if ! q -d "$DB_BAD" -F ' ' -f "$work/v01.sql" \
    -c "SELECT allot.set_limit('voucher:B', 10)" \
    -c "SELECT granted FROM $REDEEM('$T1', ARRAY['voucher:B'], 1)" \
    -c "SELECT granted FROM $REDEEM('$T2', ARRAY['voucher:B'], 1)" >/dev/null 2>"$work/bad_setup.err"; then
    cat "$work/bad_setup.err"
    echo "FAIL: upgrade: setting up $DB_BAD failed (databases kept)"
    exit 1
fi
# Two grant events for T1 (what a deleted txns row and a second redemption
# of the same txn would leave in 0.1).
q -d "$DB_BAD" -c "INSERT INTO allot.events (txn, at, kind, keys, amount, path, detail)
                   SELECT txn, at, kind, keys, amount, path, detail FROM allot.events
                    WHERE txn = '$T1' AND kind = 'grant'" >/dev/null
bad_update() {
    q -d "$DB_BAD" -c "ALTER EXTENSION pg_allot UPDATE TO '0.2'" >/dev/null 2>"$work/bad.err" && echo ok || echo failed
}
r="$(bad_update)"
check "update with two grant events for one txn fails" "$([ "$r" = failed ] && echo 1 || echo 0)" 1
check "  with a message naming the problem and the txn" \
    "$(grep -q "more than one grant or reverse event for a txn" "$work/bad.err" && grep -q "$T1" "$work/bad.err" && echo 1 || echo 0)" 1
check "  and the database stays at 0.1" \
    "$([ "$(qv "$DB_BAD" "SELECT extversion FROM pg_extension WHERE extname = 'pg_allot'")" = 0.1 ] && echo 1 || echo 0)" 1
# A grant event whose txns row was deleted: 0.1 would grant the txn again.
q -d "$DB_BAD" -c "DELETE FROM allot.events WHERE seq = (SELECT max(seq) FROM allot.events WHERE txn = '$T1')" \
    -c "DELETE FROM allot.txns WHERE txn = '$T2'" >/dev/null
r="$(bad_update)"
check "update with a grant event but no allot.txns row fails" "$([ "$r" = failed ] && echo 1 || echo 0)" 1
check "  with a message naming the problem and the txn" \
    "$(grep -q "grant events for txns that allot.txns does not hold" "$work/bad.err" && grep -q "$T2" "$work/bad.err" && echo 1 || echo 0)" 1
check "  and the database stays at 0.1" \
    "$([ "$(qv "$DB_BAD" "SELECT extversion FROM pg_extension WHERE extname = 'pg_allot'")" = 0.1 ] && echo 1 || echo 0)" 1

#------------------------------------------------------------------------------
# 6. 0.2 -> 0.3 (retention) on the database of 1-4
#------------------------------------------------------------------------------
audit_state() {  # what must not change: txns, counters, usage, verify()
    q -d "$DB" -A -t -F ' ' \
        -c "SELECT 'txn', txn, keys, amount, path, granted_at, reversed_at, reverse_reason FROM allot.txns ORDER BY 2, 6" \
        -c "SELECT 'counter', key, limit_id, window_start, used FROM allot.counters ORDER BY 2, 3, 4" \
        -c "SELECT 'usage', key, limit_id, used FROM allot.usage ORDER BY 2, 3" \
        -c "SELECT 'verify', * FROM allot.verify()"
}
# update_step FROM TO FRESH_DB: the update path FROM -> TO is its script;
# ALTER EXTENSION ... UPDATE TO 'TO' on $DB succeeds and changes nothing
# audit_state reads; the schema then equals a fresh TO install in FRESH_DB.
update_step() {
    local from="$1" to="$2" fresh="$3" path
    path="$(qv "$MAINT" "SELECT coalesce(path, '<none>') FROM pg_extension_update_paths('pg_allot') WHERE source = '$from' AND target = '$to'")"
    check "the update path $from -> $to is the script $from--$to" "$([ "$path" = "$from--$to" ] && echo 1 || echo 0)" 1
    audit_state >"$work/before_$to.txt"
    if q -d "$DB" -c "ALTER EXTENSION pg_allot UPDATE TO '$to'" >/dev/null 2>"$work/update_$to.err"; then
        check "ALTER EXTENSION pg_allot UPDATE TO '$to'" 1 1
    else
        cat "$work/update_$to.err"
        check "ALTER EXTENSION pg_allot UPDATE TO '$to'" 0 1
    fi
    audit_state >"$work/after_$to.txt"
    check "txns, counters, usage, verify() unchanged by the update to $to" \
        "$(diff "$work/before_$to.txt" "$work/after_$to.txt" | grep -c '^[<>]' || true)" 0
    check "  (lines compared)" "$(grep -c '' "$work/before_$to.txt")" 10 -ge
    q -d "$fresh" -c "CREATE EXTENSION pg_allot VERSION '$to'" >/dev/null
    compare_schema "$to" "$fresh" "updated to $to"
}
update_step 0.2 0.3 "$DB_FRESH3"

#------------------------------------------------------------------------------
# 7. 0.3 -> 0.4 (rates stored as of rate_at; no CHECK on events.kind) on the
#    same database, before the library runs anything on it: the 0.4 library
#    folds and reverses on a 0.4 schema only.
#------------------------------------------------------------------------------
update_step 0.3 0.4 "${DB_FRESH3}_4"
check "  entities keep their keys, with a rate >= 0" \
    "$(qv "$DB" "SELECT count(*) FROM allot.entities WHERE rate IS NULL OR rate < 0")" 0

# Retention on the updated data: fold, archive everything, nothing changes.
q -d "$DB" -c 'SELECT * FROM allot.rollup()' >/dev/null
audit_state >"$work/before_archive.txt"
# In one REPEATABLE READ snapshot: what was folded (seq <= last_seq; a
# denial is not noted for the fold, so the newest events may be above it)
# all moved, and nothing else did.
read -r folded_before moved folded_left archived_above < <(q -d "$DB" -A -t -F ' ' \
    -c 'BEGIN ISOLATION LEVEL REPEATABLE READ' \
    -c "SELECT count(*) FROM allot.events WHERE seq <= (SELECT last_seq FROM allot.rollup_state)" \
    -c "SELECT allot.archive_events('0 seconds')" \
    -c "SELECT (SELECT count(*) FROM allot.events WHERE seq <= r.last_seq),
               (SELECT count(*) FROM allot.events_archive WHERE seq > r.last_seq)
          FROM allot.rollup_state r" -c 'COMMIT' | grep -v '^BEGIN$\|^COMMIT$' | tr '\n' ' ') || true
check "archive_events('0 seconds') moved every folded event" "$moved" "$folded_before"
check "  (events folded before it)" "$folded_before" 10 -ge
check "  folded events left in allot.events" "$folded_left" 0
check "  unfolded events archived" "$archived_above" 0
audit_state >"$work/after_archive.txt"
check "  txns, counters, usage, verify() unchanged by archiving" \
    "$(diff "$work/before_archive.txt" "$work/after_archive.txt" | grep -c '^[<>]' || true)" 0
check "0.1 grant T3 reversed from the archive (true)" \
    "$([ "$(qv "$DB" "SELECT allot.reverse('$T3', 'after 0.3')")" = t ] && echo 1 || echo 0)" 1
check "  and not again (false)" "$([ "$(qv "$DB" "SELECT allot.reverse('$T3')")" = f ] && echo 1 || echo 0)" 1
q -d "$DB" -c 'SELECT * FROM allot.rollup()' >/dev/null
check "allot.verify() rows after archiving and a reversal" "$(qv "$DB" 'SELECT count(*) FROM allot.verify()')" 0

#------------------------------------------------------------------------------
# 8. 0.4 -> 0.5 (tables registered for pg_dump; the archive's index on txn on
#    each partition) on the same database, which has an archive partition
#    now: it keeps its index on txn; the schema (archive partitions left
#    out) equals a fresh 0.5 install; a new day's partition gets its index;
#    the archive still answers a reversal.
#------------------------------------------------------------------------------
parts_before="$(qv "$DB" "SELECT count(*) FROM pg_catalog.pg_inherits WHERE inhparent = 'allot.events_archive'::regclass")"
check "archive partitions before the update to 0.5" "$parts_before" 1 -ge
update_step 0.4 0.5 "${DB_FRESH3}_5"
check "  archive partitions with an index on txn after it" \
    "$(qv "$DB" "SELECT count(DISTINCT i.indrelid) FROM pg_catalog.pg_inherits h
                   JOIN pg_catalog.pg_index i ON i.indrelid = h.inhrelid
                   JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                  WHERE h.inhparent = 'allot.events_archive'::regclass AND a.attname = 'txn'")" "$parts_before"
check "  tables registered for pg_dump" \
    "$(qv "$DB" "SELECT cardinality(extconfig) FROM pg_catalog.pg_extension WHERE extname = 'pg_allot'")" 9
T5="$(qv "$DB" "SELECT gen_random_uuid()")"
q -d "$DB" -c "SELECT allot.redeem('$T5', ARRAY['probe:after-0.5'])" -c 'SELECT * FROM allot.rollup()' >/dev/null
q -d "$DB" -c "SET allot.clock_override = '2099-01-01 00:00:00+00'" -c "SELECT allot.archive_events('7 days')" >/dev/null
check "  a grant archived under 0.5 reversed from the archive (true)" \
    "$([ "$(qv "$DB" "SELECT allot.reverse('$T5')")" = t ] && echo 1 || echo 0)" 1
check "  every archive partition has its index on txn" \
    "$(qv "$DB" "SELECT count(*) FROM pg_catalog.pg_inherits h WHERE h.inhparent = 'allot.events_archive'::regclass
                   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = h.inhrelid)")" 0
q -d "$DB" -c 'SELECT * FROM allot.rollup()' >/dev/null
check "allot.verify() rows after the update to 0.5" "$(qv "$DB" 'SELECT count(*) FROM allot.verify()')" 0

if [ "$CHECK_FAILS" -gt 0 ]; then
    show_failure_details "$DB" "true"
    echo "FAIL: upgrade: $CHECK_FAILS check(s) failed (databases $DB, $DB_FRESH, $DB_BAD, $DB_FRESH3, ${DB_FRESH3}_4, ${DB_FRESH3}_5 kept)"
    exit 1
fi
for d in "$DB" "$DB_FRESH" "$DB_BAD" "$DB_FRESH3" "${DB_FRESH3}_4" "${DB_FRESH3}_5"; do
    q -d "$MAINT" -c "DROP DATABASE $d WITH (FORCE)"
done
echo "PASS: upgrade"
