-- Schema for the benchmark scenarios (a fresh database).
CREATE EXTENSION pg_allot;
\ir keys.sql
-- The baselines' log: bare INSERTs and the naive approach write here.
CREATE TABLE bench_log (txn uuid PRIMARY KEY, voucher int, at timestamptz);
-- The event-row baselines (event_row.sql, event_rows100.sql) write here: a
-- copy of allot.events with its indexes (primary key, the unique indexes on
-- txn, BRIN on at), so they measure what the audit row alone costs.
CREATE TABLE bench_events (LIKE allot.events INCLUDING ALL);
-- The detail allot.redeem writes for a grant over voucher, user and shop
-- (one window counted per key), as a constant the planner folds.
CREATE FUNCTION public.sample_grant_detail() RETURNS jsonb
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT '{"counted": [["voucher:HOT", 2, "-infinity", "f"],
                       ["user:U332", 3, "2026-11-24 00:00:00.000000+00", "f"],
                       ["shop:S4", 4, "2026-11-24 06:43:00.000000+00", "f"]]}'::jsonb $$;
-- The naive approach's counters: one row per entity, for every key any
-- scenario draws (100k vouchers, the hot one, 1M users, 10k shops).
CREATE TABLE naive_entity (id text PRIMARY KEY, used bigint NOT NULL DEFAULT 0, lim bigint NOT NULL);
INSERT INTO naive_entity (id, lim)
  SELECT 'voucher:V' || g, 1000000000 FROM generate_series(1, 100000) g
  UNION ALL SELECT 'voucher:HOT', 1000000000
  UNION ALL SELECT 'user:U' || g, 1000000000 FROM generate_series(1, 1000000) g
  UNION ALL SELECT 'shop:S' || g, 1000000000 FROM generate_series(1, 10000) g;
-- Limits far from being reached: the benchmark measures the cost of
-- checking and counting, not of denying.
SELECT allot.set_limit('voucher:*', 1000000000);
SELECT allot.set_limit('voucher:HOT', 1000000000);
SELECT allot.set_limit('user:*', 1000000, '1 day');
-- A FIXED one-minute window on purpose: sliding windows are served by the
-- slow (row-locked) path only (see README), and this benchmark measures
-- the path a hot key can take.
SELECT allot.set_limit('shop:*', 1000000, '1 minute', sliding => false);
VACUUM ANALYZE;
