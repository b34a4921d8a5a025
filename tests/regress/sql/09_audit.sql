-- 09_audit: the audit surface (API.md "Rollups, paths and audit").
--   * allot.events, allot.usage, allot.entities, allot.violations,
--     allot.verify(), allot.stats have the documented columns;
--   * after a workload of grants, denials, reversals and redeem_many the log
--     explains every counter (verify() is empty) and no enforced limit is
--     over its max (violations has only shadow rows);
--   * a tampered counter is found by verify(), exactly that row;
--   * rollup() is safe to call any time, twice in a row too;
--   * allot.stats is one row (its counters are NULL without
--     shared_preload_libraries, so only their sanity is shown).

SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_allot;
RESET client_min_messages;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
SET allot.clock_override = '2026-03-31 12:00:00+00';

-------------------------------------------------------------------------------
-- Columns of the audit relations and of verify().
-------------------------------------------------------------------------------
SELECT table_name, ordinal_position, column_name, data_type
  FROM information_schema.columns
 WHERE table_schema = 'allot'
   AND table_name IN ('events', 'usage', 'entities', 'violations', 'stats', 'limits')
 ORDER BY table_name, ordinal_position;
SELECT pg_get_function_result('allot.verify()'::regprocedure) AS verify_returns;
SELECT pg_get_function_result('allot.rollup()'::regprocedure) AS rollup_returns;

-------------------------------------------------------------------------------
-- A workload: grants, a denial, a reversal, a batch, a shadow limit.
-------------------------------------------------------------------------------
SELECT allot.set_limit('audit:*', 5) AS audit_total \gset
SELECT allot.set_limit('audit:A1', 3, '1 day') AS a1_day \gset
SELECT allot.set_limit('vip:*', 2, mode => 'shadow') AS vip_shadow \gset

SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000901', ARRAY['audit:A1']);
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000902', ARRAY['audit:A1'], 2);
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000903', ARRAY['audit:A1']);
SELECT allot.reverse('00000000-0000-4000-8000-000000000901', 'customer refund') AS reversed;
SELECT idx, granted, error FROM allot.redeem_many('[
  {"txn": "00000000-0000-4000-8000-000000000904", "keys": ["audit:A1"]},
  {"txn": "00000000-0000-4000-8000-000000000905", "keys": ["audit:A2", "shop:S1"], "amount": 4},
  {"txn": "00000000-0000-4000-8000-000000000906", "keys": ["audit:A2"], "amount": 2},
  {"txn": "00000000-0000-4000-8000-000000000907", "keys": ["audit:A3"]},
  {"txn": "bad", "keys": ["audit:A3"]}
]');
SELECT allot.reverse('00000000-0000-4000-8000-000000000907') AS reversed;

-- The log: one event per decision (the batch's bad item has none), in
-- seq order. at is the decision time.
SELECT txn, kind, keys, amount, path IN ('fast', 'slow') AS known_path,
       at = '2026-03-31 12:00:00+00' AS at_decision_time
  FROM allot.events ORDER BY seq;
SELECT kind, count(*) FROM allot.events GROUP BY kind ORDER BY kind;
-- A grant's detail lists where it was counted ([key, limit_id, window_start]).
SELECT detail->'counted' AS counted FROM allot.events
 WHERE txn = '00000000-0000-4000-8000-000000000902' AND kind = 'grant';

-- Usage of the totals (window_start -infinity: valid has no lower bound).
SELECT key, used, max, remaining, window_start, path IN ('fast', 'slow') AS known_path, rate >= 0 AS rate_ok
  FROM allot.usage WHERE limit_id = :audit_total ORDER BY key;
-- Entities: one row per key that has limits (shop:S1 has none); last_seen is
-- the decision time.
SELECT key, path IN ('fast', 'slow') AS known_path, rate >= 0 AS rate_ok,
       last_seen = '2026-03-31 12:00:00+00' AS last_seen_ok
  FROM allot.entities ORDER BY key;

-- Sound: nothing over its max, and the counters agree with the log.
SELECT * FROM allot.violations;
SELECT * FROM allot.verify();

-- A shadow limit over its max shows in violations (that is what shadow
-- limits are for); enforced ones still do not.
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000910', ARRAY['vip:V1'], 2);
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000911', ARRAY['vip:V1']);
SELECT key, limit_id = :vip_shadow AS vip_limit, mode, window_start, used, max, excess
  FROM allot.violations;
-- Lowering an enforced max below what is already counted is the one way an
-- enforced limit shows up there.
SELECT allot.set_limit('audit:*', 3) = :audit_total AS same_limit;
SELECT key, limit_id = :audit_total AS audit_limit, mode, used, max, excess
  FROM allot.violations WHERE mode = 'enforce' ORDER BY key;
SELECT allot.set_limit('audit:*', 5) = :audit_total AS same_limit;
SELECT count(*) AS enforce_violations FROM allot.violations WHERE mode = 'enforce';
SELECT * FROM allot.verify();

-------------------------------------------------------------------------------
-- Tampering: a counter changed behind the log's back is found by verify(),
-- exactly that (key, limit, window), with both numbers.
-------------------------------------------------------------------------------
UPDATE allot.counters SET used = used + 1
 WHERE key = 'audit:A1' AND limit_id = :a1_day;
SELECT key, limit_id = :a1_day AS a1_day_limit, window_start, counted, from_events
  FROM allot.verify();
UPDATE allot.counters SET used = used - 1
 WHERE key = 'audit:A1' AND limit_id = :a1_day;
SELECT count(*) AS verify_rows FROM allot.verify();
-- A counter row deleted: counted is NULL, the log still says 4.
DELETE FROM allot.counters WHERE key = 'audit:A2';
SELECT key, limit_id = :audit_total AS audit_limit, window_start, counted, from_events
  FROM allot.verify();
-- A counter with no event behind it: from_events is NULL.
INSERT INTO allot.counters VALUES ('audit:A9', :audit_total, '-infinity', 7);
SELECT key, window_start, counted, from_events FROM allot.verify() ORDER BY key;
-- Counters of a dropped limit are gone on purpose: not reported.
SELECT allot.drop_limit('audit:*') AS dropped;
SELECT count(*) AS verify_rows FROM allot.verify();

-------------------------------------------------------------------------------
-- rollup(): folds the new events into each key's recent rate. Safe to call
-- by hand at any time, twice in a row too (the background worker may have
-- rolled up already, so only the second call's event count is fixed).
-------------------------------------------------------------------------------
SELECT events >= 0 AS events_ok, keys >= 0 AS keys_ok, promoted >= 0 AS promoted_ok,
       demoted >= 0 AS demoted_ok
  FROM allot.rollup();
SELECT events AS new_events, promoted, demoted FROM allot.rollup();
-- Keys that were redeemed have a recent rate now.
SELECT key, rate > 0 AS has_rate FROM allot.entities ORDER BY key;
-- Nothing is left to roll up.
SELECT events_not_rolled_up FROM allot.stats;
-- A rate is stored as of rate_at and decays when read: a rollup with no
-- new grants writes no key's row, and the rate read later is lower.
CREATE TEMP TABLE activity_before AS
  SELECT a.key, a.xmin::text AS row_version, e.rate
    FROM allot.key_activity a JOIN allot.entities e USING (key) WHERE a.rate > 0;
SELECT count(*) > 0 AS keys_with_a_rate FROM activity_before;
SELECT pg_sleep(0.2);
SELECT events AS new_events, keys AS keys_written FROM allot.rollup();
SELECT count(*) AS rows_rewritten FROM activity_before b
  JOIN allot.key_activity a USING (key) WHERE a.xmin::text <> b.row_version;
SELECT count(*) AS rates_not_lower FROM activity_before b
  JOIN allot.entities e USING (key) WHERE NOT e.rate < b.rate;

-------------------------------------------------------------------------------
-- allot.stats: one row. The counters need shared_preload_libraries (NULL
-- without), so this only checks that they are sane either way.
-------------------------------------------------------------------------------
SELECT count(*) AS stats_rows FROM allot.stats;
SELECT (grants_fast IS NULL OR grants_fast >= 0) AS grants_fast_ok,
       (grants_slow IS NULL OR grants_slow >= 0) AS grants_slow_ok,
       (denials IS NULL OR denials >= 0) AS denials_ok,
       (replays IS NULL OR replays >= 0) AS replays_ok,
       (reversals IS NULL OR reversals >= 0) AS reversals_ok,
       (promotions IS NULL OR promotions >= 0) AS promotions_ok,
       (demotions IS NULL OR demotions >= 0) AS demotions_ok,
       (rollups IS NULL OR rollups >= 0) AS rollups_ok,
       (shared_keys_used IS NULL OR shared_keys_used >= 0) AS shared_keys_ok,
       (max_keys IS NULL OR max_keys > 0) AS max_keys_ok,
       (grants_slow IS NULL) = (since IS NULL) AS since_with_counters
  FROM allot.stats;

-- What the counters count (checked as differences, so this holds whatever
-- ran before; without the preload there is nothing to count). Assumes no
-- other session redeems meanwhile, as under pg_regress. Every decision
-- counts, whether or not allot.log_denials writes it to the log.
SELECT allot.set_limit('stat:*', 1) > 0 AS limit_set;
SELECT coalesce(grants_fast, 0) + coalesce(grants_slow, 0) AS grants0,
       coalesce(denials, 0) AS denials0, coalesce(replays, 0) AS replays0,
       coalesce(reversals, 0) AS reversals0, coalesce(rollups, 0) AS rollups0,
       grants_slow IS NULL AS no_stats
  FROM allot.stats \gset
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000920', ARRAY['stat:S1']);
SELECT idx, granted FROM allot.redeem_many(
  '[{"txn": "00000000-0000-4000-8000-000000000921", "keys": ["stat:S2"]}]');
SELECT granted, replayed FROM allot.redeem('00000000-0000-4000-8000-000000000920', ARRAY['stat:S1']);
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000922', ARRAY['stat:S1']);
SET allot.log_denials = off;
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000923', ARRAY['stat:S2']);
RESET allot.log_denials;
SELECT allot.reverse('00000000-0000-4000-8000-000000000921') AS reversed;
SELECT count(*) AS rollup_rows FROM allot.rollup();
SELECT :'no_stats'::boolean
         OR coalesce(grants_fast, 0) + coalesce(grants_slow, 0) - :grants0 = 2 AS two_grants,
       :'no_stats'::boolean OR denials - :denials0 = 2 AS two_denials,
       :'no_stats'::boolean OR replays - :replays0 = 1 AS one_replay,
       :'no_stats'::boolean OR reversals - :reversals0 = 1 AS one_reversal,
       :'no_stats'::boolean OR rollups - :rollups0 >= 1 AS rollup_counted
  FROM allot.stats;

-- Every event's kind is one of three (only the extension writes events:
-- since 0.4 no CHECK constraint says so, the code does).
SELECT array_agg(DISTINCT kind ORDER BY kind) AS kinds FROM allot.events;

DROP EXTENSION pg_allot CASCADE;
