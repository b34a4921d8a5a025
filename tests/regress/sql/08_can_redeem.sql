-- 08_can_redeem: the read-only pre-check.
--   * one row per (key, applicable limit), keys in the order given;
--   * allowed: an enforced limit has room for amount (shadow limits are
--     always allowed); remaining = max - used (at least 0); retry_after as
--     redeem would report it for that limit (NULL when allowed, or when
--     waiting cannot help);
--   * no rows for a key without limits;
--   * consumes nothing, logs nothing, works in a read-only transaction;
--   * bad input is an error, as for redeem.

SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_allot;
RESET client_min_messages;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
SET allot.clock_override = '2026-03-31 12:00:00+00';

SELECT allot.set_limit('coupon:*', 3, '1 day');                 -- 1
SELECT allot.set_limit('coupon:C1', 5);                         -- 2: a total
SELECT allot.set_limit('coupon:*', 2, '1 hour', mode => 'shadow');  -- 3: shadow
SELECT allot.set_limit('burst:*', 2, '1 minute', true);         -- 4: sliding

-- Nothing used yet: everything allowed, remaining = max.
SELECT * FROM allot.can_redeem(ARRAY['coupon:C1', 'coupon:C2']);

-- Use some: C1 gets 3 (the day's max), C2 gets 2.
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000801', ARRAY['coupon:C1'], 3);
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000802', ARRAY['coupon:C2'], 2);

SELECT count(*) AS events_before FROM allot.events \gset
SELECT md5(string_agg(c::text, ';' ORDER BY key, limit_id, window_start)) AS counters_before
  FROM allot.counters c \gset
SELECT md5(string_agg(x, ';' ORDER BY x)) AS entities_before
  FROM (SELECT e::text AS x FROM allot.entity_state e
        UNION ALL SELECT v.key || ' ' || v.path FROM allot.entities v) s \gset

-- C1: the day is full (denied until midnight), the total has 2 left, the
-- shadow hour is over (3 > 2) but shadow limits always allow.
-- C2: one more fits today; the shadow hour is exactly full.
-- shop:S1 has no limit: no row.
SELECT * FROM allot.can_redeem(ARRAY['coupon:C1', 'shop:S1', 'coupon:C2']);
-- amount 2: C2's day (2 + 2 > 3) is denied too.
SELECT * FROM allot.can_redeem(ARRAY['coupon:C2'], 2);
-- More than max (3 a day) can never fit: retry_after NULL.
SELECT * FROM allot.can_redeem(ARRAY['coupon:C3'], 4);
-- No key has a limit: no rows.
SELECT count(*) AS rows FROM allot.can_redeem(ARRAY['shop:S1', 'shop:S2']);

-- can_redeem agrees with what redeem then decides.
SELECT bool_and(allowed) AS can FROM allot.can_redeem(ARRAY['coupon:C1']);
SELECT bool_and(allowed) AS can FROM allot.can_redeem(ARRAY['coupon:C2']);

-- It consumed and logged nothing, and touched no entity: no row, no key or
-- path in allot.entities (not its rates: the rollup worker updates those at
-- any time).
SELECT count(*) - :events_before AS new_events FROM allot.events;
SELECT md5(string_agg(c::text, ';' ORDER BY key, limit_id, window_start)) = :'counters_before'
       AS counters_unchanged
  FROM allot.counters c;
SELECT md5(string_agg(x, ';' ORDER BY x)) = :'entities_before' AS entities_unchanged
  FROM (SELECT e::text AS x FROM allot.entity_state e
        UNION ALL SELECT v.key || ' ' || v.path FROM allot.entities v) s;

SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000803', ARRAY['coupon:C1']);
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000804', ARRAY['coupon:C2']);

-- The spent total: after tomorrow's redemptions C1's total (5) is used up;
-- then waiting cannot help.
SET allot.clock_override = '2026-04-01 12:00:00+00';
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000805', ARRAY['coupon:C1'], 2);
SELECT * FROM allot.can_redeem(ARRAY['coupon:C1']);

-- A sliding limit: the wait is until the oldest bucket leaves the window.
SET allot.clock_override = '2026-03-31 12:00:00+00';
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000806', ARRAY['burst:B1']);
SET allot.clock_override = '2026-03-31 12:00:20+00';
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000807', ARRAY['burst:B1']);
SET allot.clock_override = '2026-03-31 12:00:40+00';
SELECT * FROM allot.can_redeem(ARRAY['burst:B1']);
SELECT * FROM allot.can_redeem(ARRAY['burst:B1'], 2);

-- Read-only: it runs in a READ ONLY transaction.
BEGIN TRANSACTION READ ONLY;
SELECT key, allowed, remaining FROM allot.can_redeem(ARRAY['coupon:C2', 'burst:B1']);
COMMIT;

-------------------------------------------------------------------------------
-- Bad input: the same errors as redeem (22023), and nothing logged.
-------------------------------------------------------------------------------
SELECT count(*) AS events_before FROM allot.events \gset
CREATE FUNCTION pg_temp.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE sql;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
SELECT t.what, pg_temp.try(t.sql) AS result
  FROM (VALUES
    ('NULL keys',      $$SELECT * FROM allot.can_redeem(NULL)$$),
    ('empty keys',     $$SELECT * FROM allot.can_redeem('{}')$$),
    ('NULL element',   $$SELECT * FROM allot.can_redeem(ARRAY['coupon:C1', NULL])$$),
    ('malformed key',  $$SELECT * FROM allot.can_redeem(ARRAY['coupon'])$$),
    ('class as key',   $$SELECT * FROM allot.can_redeem(ARRAY['coupon:*'])$$),
    ('duplicate keys', $$SELECT * FROM allot.can_redeem(ARRAY['coupon:C1', 'coupon:C1'])$$),
    ('17 keys',        $$SELECT * FROM allot.can_redeem(ARRAY(SELECT 'k:' || i FROM generate_series(1, 17) i))$$),
    ('16 keys',        $$SELECT * FROM allot.can_redeem(ARRAY(SELECT 'k:' || i FROM generate_series(1, 16) i))$$),
    ('amount 0',       $$SELECT * FROM allot.can_redeem(ARRAY['coupon:C1'], 0)$$),
    ('amount -1',      $$SELECT * FROM allot.can_redeem(ARRAY['coupon:C1'], -1)$$),
    ('amount NULL',    $$SELECT * FROM allot.can_redeem(ARRAY['coupon:C1'], NULL)$$)
  ) AS t(what, sql);
SELECT count(*) - :events_before AS new_events FROM allot.events;

DROP EXTENSION pg_allot CASCADE;
