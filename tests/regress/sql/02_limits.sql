-- 02_limits: allot.set_limit / allot.drop_limit and the allot.limits table.
--   * set_limit returns the limit's id; the same (scope, per, sliding, valid)
--     is one limit, updated in place (max, mode) with its usage kept;
--   * '1 day' = '24 hours', but '1 month' <> '30 days';
--   * scopes are keys or classes; drop_limit returns how many it dropped and
--     removes their counters;
--   * every bad argument is an ERROR (22023) that changes nothing.

SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_allot;
RESET client_min_messages;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
SET allot.clock_override = '2026-03-31 12:00:00+00';

-- try(sql): runs sql and says 'ok', or the SQLSTATE and message of its error.
CREATE FUNCTION pg_temp.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE sql;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-------------------------------------------------------------------------------
-- A new limit gets an id; the defaults are a total (per NULL), fixed,
-- valid forever, enforced.
-------------------------------------------------------------------------------
-- (Ids come from an identity column and may have gaps, so the tests keep
-- them in psql variables and compare, instead of printing them.)
SELECT allot.set_limit('shop:S1', 3) AS total_id \gset
SELECT id = :total_id AS is_total_id, scope, max, per, sliding, valid, mode
  FROM allot.limits ORDER BY id;

-------------------------------------------------------------------------------
-- Same (scope, per, sliding, valid) again: the same limit, updated in place.
-- Usage counted before the change is kept.
-------------------------------------------------------------------------------
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000201', ARRAY['shop:S1'], 2);
SELECT key, limit_id = :total_id AS total, used, max, remaining
  FROM allot.usage WHERE key = 'shop:S1';
-- Raising max: same id, the 2 units used are still there, 3 remain.
SELECT allot.set_limit('shop:S1', 5) = :total_id AS same_id;
SELECT key, limit_id = :total_id AS total, used, max, remaining FROM allot.usage WHERE key = 'shop:S1';
-- Switching the mode is an update too.
SELECT allot.set_limit('shop:S1', 5, mode => 'shadow') = :total_id AS same_id;
SELECT id = :total_id AS same_id, max, mode FROM allot.limits WHERE scope = 'shop:S1';
SELECT allot.set_limit('shop:S1', 5, NULL, false, '(,)', 'enforce') = :total_id AS same_id;
SELECT count(*) AS limits FROM allot.limits;

-------------------------------------------------------------------------------
-- Window lengths: '1 day' and '24 hours' (and '1440 minutes') are the same
-- limit; a calendar month is not 30 days.
-------------------------------------------------------------------------------
SELECT allot.set_limit('shop:S1', 10, '1 day') AS day_id \gset
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000202', ARRAY['shop:S1']);
SELECT allot.set_limit('shop:S1', 20, '24 hours') = :day_id AS same_day_limit;
SELECT allot.set_limit('shop:S1', 30, '1440 minutes') = :day_id AS same_day_limit;
-- The stored per keeps its first spelling; max is the latest; usage kept.
SELECT id = :day_id AS is_day_limit, max, per
  FROM allot.limits WHERE scope = 'shop:S1' AND per IS NOT NULL;
SELECT key, window_start, used FROM allot.counters WHERE limit_id = :day_id;

SELECT allot.set_limit('shop:S1', 100, '1 month') AS month_id \gset
SELECT allot.set_limit('shop:S1', 100, '1 mon') = :month_id AS same_month_limit;
SELECT allot.set_limit('shop:S1', 100, '30 days') AS thirty_days_id \gset
SELECT :thirty_days_id <> :month_id AS thirty_days_is_another_limit;
SELECT allot.set_limit('shop:S1', 100, '720 hours') = :thirty_days_id AS same_thirty_days_limit;

-- Sliding or fixed, and the valid range, are part of a limit's identity.
SELECT allot.set_limit('shop:S1', 10, '1 day', true) <> :day_id AS sliding_is_another_limit;
SELECT allot.set_limit('shop:S1', 10, '1 day', false, '[2026-01-01,2027-01-01)') <> :day_id
       AS valid_2026_is_another_limit;
SELECT allot.set_limit('shop:S1', 10, '1 day', false, '[2027-01-01,2028-01-01)') <> :day_id
       AS valid_2027_is_another_limit;

-------------------------------------------------------------------------------
-- Class scopes: every id replaced by '*'.
-------------------------------------------------------------------------------
SELECT allot.set_limit('shop:*', 50, '1 day') > 0 AS class_limit;
SELECT allot.set_limit('shop:*/user:*', 1, '1 day') > 0 AS pair_class_limit;
SELECT allot.set_limit('shop:S1/user:U1', 2, '1 day') > 0 AS pair_key_limit;

SELECT scope, max, per, sliding, valid, mode FROM allot.limits ORDER BY id;

-------------------------------------------------------------------------------
-- Bad arguments: each one an ERROR with SQLSTATE 22023 and a message naming
-- the problem; none of them changes allot.limits.
-------------------------------------------------------------------------------
SELECT md5(string_agg(l::text, ';' ORDER BY l.id)) AS limits_snapshot,
       count(*) AS limits_count
  FROM allot.limits l \gset

SELECT t.what, pg_temp.try(t.sql) AS result
  FROM (VALUES
    ('NULL scope',             $$SELECT allot.set_limit(NULL, 1)$$),
    ('NULL max',               $$SELECT allot.set_limit('shop:S9', NULL)$$),
    ('NULL sliding',           $$SELECT allot.set_limit('shop:S9', 1, '1 day', NULL)$$),
    ('NULL valid',             $$SELECT allot.set_limit('shop:S9', 1, '1 day', false, NULL)$$),
    ('NULL mode',              $$SELECT allot.set_limit('shop:S9', 1, '1 day', false, '(,)', NULL)$$),
    ('empty scope',            $$SELECT allot.set_limit('', 1)$$),
    ('scope without colon',    $$SELECT allot.set_limit('shop', 1)$$),
    ('uppercase kind',         $$SELECT allot.set_limit('Shop:S9', 1)$$),
    ('empty id',               $$SELECT allot.set_limit('shop:', 1)$$),
    ('five segments',          $$SELECT allot.set_limit('a:1/b:2/c:3/d:4/e:5', 1)$$),
    ('mixed key and class',    $$SELECT allot.set_limit('voucher:V1/user:*', 1)$$),
    ('mixed class and key',    $$SELECT allot.set_limit('voucher:*/user:U1', 1)$$),
    ('max 0',                  $$SELECT allot.set_limit('shop:S9', 0)$$),
    ('max negative',           $$SELECT allot.set_limit('shop:S9', -5)$$),
    ('max 0 on an existing',   $$SELECT allot.set_limit('shop:S1', 0)$$),
    ('per zero',               $$SELECT allot.set_limit('shop:S9', 1, '0 seconds')$$),
    ('per negative',           $$SELECT allot.set_limit('shop:S9', 1, '-1 day')$$),
    ('per negative part',      $$SELECT allot.set_limit('shop:S9', 1, '1 day -1 hour')$$),
    ('per negative month part',$$SELECT allot.set_limit('shop:S9', 1, '1 mon -1 day')$$),
    ('per over 1000 years',    $$SELECT allot.set_limit('shop:S9', 1, '1001 years')$$),
    ('sliding without per',    $$SELECT allot.set_limit('shop:S9', 1, NULL, true)$$),
    ('sliding by months',      $$SELECT allot.set_limit('shop:S9', 1, '1 month', true)$$),
    ('sliding months and days',$$SELECT allot.set_limit('shop:S9', 1, '1 mon 2 days', true)$$),
    ('empty valid range',      $$SELECT allot.set_limit('shop:S9', 1, NULL, false, 'empty')$$),
    ('empty valid range 2',    $$SELECT allot.set_limit('shop:S9', 1, NULL, false, '[2026-01-01,2026-01-01)')$$),
    ('mode bogus',             $$SELECT allot.set_limit('shop:S9', 1, mode => 'bogus')$$),
    ('mode is case-sensitive', $$SELECT allot.set_limit('shop:S9', 1, mode => 'Enforce')$$)
  ) AS t(what, sql);

SELECT md5(string_agg(l::text, ';' ORDER BY l.id)) = :'limits_snapshot' AS limits_unchanged,
       count(*) = :limits_count AS same_count
  FROM allot.limits l;

-- The same errors as psql shows them.
\set VERBOSITY sqlstate
SELECT allot.set_limit('voucher:V1/user:*', 1);
SELECT allot.set_limit('shop:S9', 0);
\set VERBOSITY default
SELECT allot.set_limit('voucher:V1/user:*', 1);
SELECT allot.set_limit('shop:S9', 1, '1 month', true);

-------------------------------------------------------------------------------
-- drop_limit(scope, per, sliding): drops every limit of that scope and shape
-- (whatever its valid range), with its counters, and says how many.
-------------------------------------------------------------------------------
SELECT count(*) AS day_counters FROM allot.counters WHERE limit_id = :day_id;
-- (shop:S1, '1 day', fixed) has three valid ranges: all three go. '24 hours'
-- names the same shape.
SELECT allot.drop_limit('shop:S1', '24 hours') AS dropped;
SELECT count(*) AS day_counters FROM allot.counters WHERE limit_id = :day_id;
SELECT allot.drop_limit('shop:S1', '1 day') AS dropped_again;
-- Sliding is a different shape; '720 hours' names the '30 days' limit, not
-- the month.
SELECT allot.drop_limit('shop:S1', '1 day', true) AS dropped_sliding;
SELECT allot.drop_limit('shop:S1', '720 hours') AS dropped_thirty_days;
-- per NULL is the total; the total's usage goes with it.
SELECT count(*) AS total_counters FROM allot.counters WHERE limit_id = :total_id;
SELECT allot.drop_limit('shop:S1') AS dropped_total;
SELECT count(*) AS total_counters FROM allot.counters WHERE limit_id = :total_id;
-- Nothing of that shape: 0.
SELECT allot.drop_limit('nothing:here') AS dropped_none;
SELECT allot.drop_limit('shop:*', '1 hour') AS dropped_none;
-- Bad arguments are errors here too.
SELECT t.what, pg_temp.try(t.sql) AS result
  FROM (VALUES
    ('NULL scope',    $$SELECT allot.drop_limit(NULL)$$),
    ('NULL sliding',  $$SELECT allot.drop_limit('shop:*', '1 day', NULL)$$),
    ('bad scope',     $$SELECT allot.drop_limit('shop')$$),
    ('mixed scope',   $$SELECT allot.drop_limit('shop:S1/user:*', '1 day')$$)
  ) AS t(what, sql);

SELECT scope, max, per, sliding, valid, mode FROM allot.limits ORDER BY id;

DROP EXTENSION pg_allot CASCADE;
