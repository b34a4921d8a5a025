-- 04_windows: where a redemption is counted and when room comes back.
-- Every decision here is made at a pinned time (allot.clock_override).
--   * fixed windows are aligned to midnight UTC 2000-01-01, or to the lower
--     bound of valid when it is finite; '1 day' resets at midnight UTC,
--     '1 hour' on the hour, '1 month' by calendar month;
--   * retry_after on a fixed window is the time to the next window (or to
--     the end of valid, if sooner); NULL for a spent total;
--   * sliding windows count (now - per, now] in buckets of per/60 and never
--     admit more than max in any window of length per.

SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_allot;
RESET client_min_messages;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';

SELECT allot.set_limit('day:*', 2, '1 day');                                        -- 1
SELECT allot.set_limit('hour:*', 1, '1 hour');                                      -- 2
SELECT allot.set_limit('month:M1', 1, '1 month', false, '[2024-01-31,)');           -- 3
SELECT allot.set_limit('month:M2', 1, '1 month');                                   -- 4
SELECT allot.set_limit('shift:*', 1, '1 day', false, '[2026-03-31 06:00+00,)');     -- 5
SELECT allot.set_limit('event:E1', 1, '1 day', false,
                       '[2026-03-31 06:00+00,2026-03-31 18:00+00)');                -- 6
SELECT allot.set_limit('slide:*', 2, '1 minute', true);                             -- 7
SELECT allot.set_limit('total:T1', 1);                                              -- 8

-------------------------------------------------------------------------------
-- '1 day': half a second before midnight UTC the day's 2 units are used,
-- and the wait is half a second; at midnight a new window starts.
-------------------------------------------------------------------------------
SET allot.clock_override = '2026-03-31 23:59:59.5+00';
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000401', ARRAY['day:D1']);
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000402', ARRAY['day:D1']);
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000403', ARRAY['day:D1']);
SET allot.clock_override = '2026-04-01 00:00:00+00';
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000404', ARRAY['day:D1']);
-- Each window has its own counter row.
SELECT window_start, used FROM allot.counters WHERE key = 'day:D1' ORDER BY window_start;
-- Midnight is UTC midnight whatever the session's time zone: 22:30 in New
-- York on Mar 31 is 02:30 UTC on Apr 1, the same window as above.
SET timezone = 'America/New_York';
SET allot.clock_override = '2026-03-31 22:30:00-04';
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000405', ARRAY['day:D1']);
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000406', ARRAY['day:D1']);
SET timezone = 'UTC';
SELECT window_start, used FROM allot.counters WHERE key = 'day:D1' ORDER BY window_start;

-------------------------------------------------------------------------------
-- '1 hour': on the hour.
-------------------------------------------------------------------------------
SET allot.clock_override = '2026-03-31 10:59:59+00';
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000410', ARRAY['hour:H1']);
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000411', ARRAY['hour:H1']);
SET allot.clock_override = '2026-03-31 11:00:00+00';
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000412', ARRAY['hour:H1']);
SET allot.clock_override = '2026-03-31 11:59:59.999999+00';
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000413', ARRAY['hour:H1']);
SELECT window_start, used FROM allot.counters WHERE key = 'hour:H1' ORDER BY window_start;
-- Two keys denied: the wait is the longest one, when both have room (the
-- hour has room in 1 us, the day at midnight).
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000414', ARRAY['hour:H1', 'day:D1']);

-------------------------------------------------------------------------------
-- '1 month' anchored on Jan 31 2024 (the finite lower bound of valid): the
-- windows start Jan 31, Feb 29 (the 31st clamped to February's last day),
-- Mar 31 (two months after Jan 31, not one month after Feb 29), Apr 30.
-------------------------------------------------------------------------------
SET allot.clock_override = '2024-02-15 12:00:00+00';
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000420', ARRAY['month:M1']);
SELECT granted, denied_keys, retry_after           -- until Feb 29 00:00: 13.5 days
  FROM allot.redeem('00000000-0000-4000-8000-000000000421', ARRAY['month:M1']);
SET allot.clock_override = '2024-02-28 23:59:59+00';
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000422', ARRAY['month:M1']);
SET allot.clock_override = '2024-02-29 00:00:00+00';
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000423', ARRAY['month:M1']);
SET allot.clock_override = '2024-03-30 12:00:00+00';
SELECT granted, denied_keys, retry_after           -- still Feb 29's window
  FROM allot.redeem('00000000-0000-4000-8000-000000000424', ARRAY['month:M1']);
SET allot.clock_override = '2024-03-31 00:00:00+00';
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000425', ARRAY['month:M1']);
SELECT granted, denied_keys, retry_after           -- until Apr 30: 30 days
  FROM allot.redeem('00000000-0000-4000-8000-000000000426', ARRAY['month:M1']);
SELECT window_start, used FROM allot.counters WHERE key = 'month:M1' ORDER BY window_start;
-- Before the valid range starts, the limit does not apply at all.
SET allot.clock_override = '2024-01-30 00:00:00+00';
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000427', ARRAY['month:M1']);
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000428', ARRAY['month:M1']);

-- Without a finite lower bound, months are calendar months (from the 1st).
SET allot.clock_override = '2026-03-31 23:59:59.5+00';
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000429', ARRAY['month:M2']);
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000430', ARRAY['month:M2']);
SET allot.clock_override = '2026-04-01 00:00:00+00';
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000431', ARRAY['month:M2']);
SELECT window_start, used FROM allot.counters WHERE key = 'month:M2' ORDER BY window_start;

-------------------------------------------------------------------------------
-- '1 day' aligned to a finite lower bound of valid (06:00): the day runs
-- from 06:00 to 06:00.
-------------------------------------------------------------------------------
SET allot.clock_override = '2026-04-01 05:59:59+00';
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000440', ARRAY['shift:S1']);
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000441', ARRAY['shift:S1']);
SET allot.clock_override = '2026-04-01 06:00:00+00';
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000442', ARRAY['shift:S1']);
SELECT window_start, used FROM allot.counters WHERE key = 'shift:S1' ORDER BY window_start;

-- A limit whose valid range ends before its next window: the wait is until
-- it stops applying (18:00), not until the next window (06:00 next day).
SET allot.clock_override = '2026-03-31 12:00:00+00';
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000443', ARRAY['event:E1']);
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000444', ARRAY['event:E1']);
SET allot.clock_override = '2026-03-31 18:00:00+00';
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000445', ARRAY['event:E1']);

-------------------------------------------------------------------------------
-- A spent total: waiting cannot help, retry_after is NULL.
-------------------------------------------------------------------------------
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000450', ARRAY['total:T1']);
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000451', ARRAY['total:T1']);
-- A key with both: the total spent makes waiting useless, whatever the rest.
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000452', ARRAY['total:T1', 'day:D1']);

-------------------------------------------------------------------------------
-- Sliding '1 minute', max 2: buckets of 1 s (per / 60). A grant in bucket
-- [s, s+1s) stops counting at s + 1 s + 1 min.
-------------------------------------------------------------------------------
SET allot.clock_override = '2026-03-31 12:00:00.2+00';                -- t
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000460', ARRAY['slide:W1']);
SET allot.clock_override = '2026-03-31 12:00:30.2+00';                -- t + 30 s
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000461', ARRAY['slide:W1']);
-- t + 45 s: 2 in the last minute. Room comes back when the first grant's
-- bucket (12:00:00) leaves, at 12:01:01: in 15.8 s.
SET allot.clock_override = '2026-03-31 12:00:45.2+00';
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000462', ARRAY['slide:W1']);
-- Just before: still denied (the whole bucket counts), 0.5 s to wait.
SET allot.clock_override = '2026-03-31 12:01:00.5+00';
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000463', ARRAY['slide:W1']);
-- At 12:01:01 the first bucket has left: granted again; the retry of the
-- denied txn 462 is decided afresh and granted.
SET allot.clock_override = '2026-03-31 12:01:01+00';
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000462', ARRAY['slide:W1']);
-- Full again; the next room is when the t + 30 s bucket leaves (12:01:31).
SET allot.clock_override = '2026-03-31 12:01:20+00';
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000464', ARRAY['slide:W1']);
SELECT window_start, used FROM allot.counters WHERE key = 'slide:W1' ORDER BY window_start;
-- Never more than max in any minute.
SELECT count(*) AS sliding_violations FROM allot.violations WHERE key = 'slide:W1';

-- amount 2 needs both units free: the wait is until the last bucket leaves.
SET allot.clock_override = '2026-03-31 12:01:30+00';
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000465', ARRAY['slide:W1'], 2);

-------------------------------------------------------------------------------
-- allot.usage shows the current window of each (key, limit) at the decision
-- time: window_start is the start of the fixed window (or, for a sliding
-- limit, now - per), used what it holds, remaining what is left.
-------------------------------------------------------------------------------
SET allot.clock_override = '2026-03-31 11:30:00+00';
SELECT u.key, l.scope, u.window_start, u.used, u.max, u.remaining
  FROM allot.usage u JOIN allot.limits l ON l.id = u.limit_id
 WHERE u.key IN ('day:D1', 'hour:H1')
 ORDER BY u.key, u.limit_id;
SET allot.clock_override = '2026-04-01 23:00:00+00';
SELECT u.key, l.scope, u.window_start, u.used, u.max, u.remaining
  FROM allot.usage u JOIN allot.limits l ON l.id = u.limit_id
 WHERE u.key IN ('day:D1', 'hour:H1')
 ORDER BY u.key, u.limit_id;
SET allot.clock_override = '2026-03-31 12:01:30+00';
SELECT u.key, l.scope, u.window_start, u.used, u.max, u.remaining
  FROM allot.usage u JOIN allot.limits l ON l.id = u.limit_id
 WHERE u.key IN ('hour:H1', 'shift:S1', 'slide:W1', 'total:T1', 'event:E1')
 ORDER BY u.key, u.limit_id;
SET allot.clock_override = '2024-03-31 00:00:00+00';
SELECT u.key, l.scope, u.window_start, u.used, u.max, u.remaining
  FROM allot.usage u JOIN allot.limits l ON l.id = u.limit_id
 WHERE u.key LIKE 'month:%'
 ORDER BY u.key, u.limit_id;

DROP EXTENSION pg_allot CASCADE;
