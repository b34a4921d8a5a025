-- 03_redeem: the decisions of allot.redeem (API.md "Redeem").
--   * granted iff every enforced limit of every key has room (all or nothing);
--   * denied_keys lists every denied key; a denial consumes nothing;
--   * a key without limits is granted, and still audited;
--   * idempotent on txn; 23505 for the same txn with other keys or amount;
--   * a denied txn may be retried and is decided afresh;
--   * amount > 1; exact-key limits override class limits of the same shape;
--   * valid ranges; shadow limits; allot.log_denials.

SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_allot;
RESET client_min_messages;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
-- Noon: the next '1 day' window starts in 12 hours.
SET allot.clock_override = '2026-03-31 12:00:00+00';

-- The limits of this file, created once, so their ids are 1, 2, 3, ...
SELECT allot.set_limit('voucher:V1', 2);                          -- 1: total
SELECT allot.set_limit('user:*', 5, '1 day');                     -- 2: per user and day
SELECT allot.set_limit('user:U1', 1, '1 day');                    -- 3: overrides 2 for U1
SELECT allot.set_limit('user:U6', 1, '24 hours');                 -- 4: overrides 2 ('24 hours' = '1 day')
SELECT allot.set_limit('user:U7', 10, '1 hour');                  -- 5: another shape: 2 applies too
SELECT allot.set_limit('user:U8', 10, '1 day', true);             -- 6: sliding: 2 applies too
SELECT allot.set_limit('gift:G1', 1, NULL, false, '[2026-04-01,)');            -- 7: from April
SELECT allot.set_limit('gift:G2', 1, NULL, false, '[2026-03-01,2026-03-31)');  -- 8: ended
SELECT allot.set_limit('promo:*', 1, mode => 'shadow');           -- 9: shadow total
SELECT allot.set_limit('promo:P2', 1, '1 day');                   -- 10: enforced
SELECT allot.set_limit('voucher:*/user:*', 1);                   -- 11: per user and voucher
SELECT id, scope, max, per, sliding, valid, mode FROM allot.limits ORDER BY id;

-------------------------------------------------------------------------------
-- A grant: every key has room. amount (default 1) is counted on every
-- applicable limit of every key.
-------------------------------------------------------------------------------
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000301', ARRAY['voucher:V1', 'user:U2']);
SELECT key, limit_id, window_start, used FROM allot.counters ORDER BY key, limit_id;
-- path is one of the two paths.
SELECT (allot.redeem('00000000-0000-4000-8000-000000000302', ARRAY['user:U2'])).path
       IN ('fast', 'slow') AS known_path;

-------------------------------------------------------------------------------
-- All or nothing: voucher:V1 has 1 unit left; a request for 1 more from U3
-- is granted, the next one (U4) is denied, and then U4's usage is untouched.
-------------------------------------------------------------------------------
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000303', ARRAY['voucher:V1', 'user:U3']);
-- The total on voucher:V1 is spent: waiting cannot help, retry_after is NULL.
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000304', ARRAY['user:U4', 'voucher:V1']);
SELECT count(*) AS u4_counters FROM allot.counters WHERE key = 'user:U4';
SELECT key, limit_id, used FROM allot.counters WHERE key = 'voucher:V1';
-- The denial was logged, with what was denied (detail.denied); nothing was
-- counted, and no txn was recorded.
SELECT kind, keys, amount, detail FROM allot.events
 WHERE txn = '00000000-0000-4000-8000-000000000304';
SELECT count(*) AS txn_rows FROM allot.txns WHERE txn = '00000000-0000-4000-8000-000000000304';

-------------------------------------------------------------------------------
-- denied_keys lists every denied key, in request order. U1 may redeem once
-- a day (limit 3 overrides the class limit 2).
-------------------------------------------------------------------------------
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000305', ARRAY['user:U1']);
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000306', ARRAY['user:U1', 'shop:S1', 'voucher:V1']);
-- Only the daily limit: waiting until midnight helps.
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000307', ARRAY['shop:S1', 'user:U1']);
SELECT kind, keys, detail FROM allot.events
 WHERE txn = '00000000-0000-4000-8000-000000000307';

-------------------------------------------------------------------------------
-- A key with no limit is unlimited, but still audited (a grant event with
-- nothing counted). It gets no entity row (entities are keys with limits).
-------------------------------------------------------------------------------
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000308', ARRAY['shop:S1'], 1000000);
SELECT kind, keys, amount, detail FROM allot.events
 WHERE txn = '00000000-0000-4000-8000-000000000308';
SELECT count(*) AS counters, (SELECT count(*) FROM allot.entities WHERE key = 'shop:S1') AS entities
  FROM allot.counters WHERE key = 'shop:S1';

-------------------------------------------------------------------------------
-- Idempotency on txn.
-------------------------------------------------------------------------------
SELECT count(*) AS events_before FROM allot.events \gset
SELECT md5(string_agg(c::text, ';' ORDER BY key, limit_id, window_start)) AS counters_before
  FROM allot.counters c \gset
-- Replaying a grant: the stored decision, replayed = true ...
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000301', ARRAY['voucher:V1', 'user:U2']);
-- ... also with the keys in another order (the same request) ...
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000301', ARRAY['user:U2', 'voucher:V1']);
-- ... even though voucher:V1 is spent by now; and nothing new is consumed
-- or logged.
SELECT count(*) - :events_before AS new_events FROM allot.events;
SELECT md5(string_agg(c::text, ';' ORDER BY key, limit_id, window_start)) = :'counters_before'
       AS counters_unchanged
  FROM allot.counters c;
-- The same txn with other keys, or another amount: 23505, naming what was
-- granted.
SELECT allot.redeem('00000000-0000-4000-8000-000000000301', ARRAY['voucher:V1']);
SELECT allot.redeem('00000000-0000-4000-8000-000000000301', ARRAY['voucher:V1', 'user:U2', 'user:U3']);
SELECT allot.redeem('00000000-0000-4000-8000-000000000301', ARRAY['voucher:V1', 'user:U2'], 2);
\set VERBOSITY sqlstate
SELECT allot.redeem('00000000-0000-4000-8000-000000000301', ARRAY['user:U2'], 1);
\set VERBOSITY default
SELECT count(*) - :events_before AS new_events FROM allot.events;

-------------------------------------------------------------------------------
-- A denied txn consumed nothing and may be retried; the retry is decided
-- afresh: once voucher:V1 has room (max raised 2 -> 3), it is granted.
-------------------------------------------------------------------------------
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000304', ARRAY['user:U4', 'voucher:V1']);
SELECT allot.set_limit('voucher:V1', 3) AS same_limit;
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000304', ARRAY['user:U4', 'voucher:V1']);
SELECT kind, keys FROM allot.events
 WHERE txn = '00000000-0000-4000-8000-000000000304' ORDER BY seq;
-- Now it is granted, a further call is a replay.
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000304', ARRAY['voucher:V1', 'user:U4']);

-------------------------------------------------------------------------------
-- amount > 1 (user:* allows 5 a day).
-------------------------------------------------------------------------------
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000310', ARRAY['user:U5'], 3);
SELECT granted, replayed, denied_keys, retry_after          -- 3 + 3 > 5
  FROM allot.redeem('00000000-0000-4000-8000-000000000311', ARRAY['user:U5'], 3);
SELECT granted, replayed, denied_keys, retry_after          -- 3 + 2 = 5: exactly full
  FROM allot.redeem('00000000-0000-4000-8000-000000000312', ARRAY['user:U5'], 2);
SELECT key, limit_id, used FROM allot.counters WHERE key = 'user:U5';
-- More than max can never fit in any window: retry_after NULL.
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000313', ARRAY['user:U9'], 6);
SELECT count(*) AS u9_counters FROM allot.counters WHERE key = 'user:U9';

-------------------------------------------------------------------------------
-- Which limits apply: an exact-key limit replaces the class limit with the
-- same (per, sliding) -- '24 hours' is the same as '1 day' -- but a limit of
-- another shape (1 hour; sliding 1 day) applies next to the class limit.
-- (can_redeem lists the applicable limits of each key.)
-------------------------------------------------------------------------------
SELECT c.key, l.id, l.scope, l.per, l.sliding
  FROM allot.can_redeem(ARRAY['user:U1', 'user:U6', 'user:U7', 'user:U8', 'user:U10']) c
  JOIN allot.limits l ON l.id = c.limit_id
 ORDER BY c.key, l.id;
-- U6: one a day (its own limit), not five.
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000314', ARRAY['user:U6']);
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000315', ARRAY['user:U6']);
-- U7: its 10-an-hour limit does not lift the class's 5 a day.
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000316', ARRAY['user:U7'], 5);
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000317', ARRAY['user:U7']);
SELECT key, limit_id, window_start, used FROM allot.counters WHERE key = 'user:U7' ORDER BY limit_id;

-------------------------------------------------------------------------------
-- Composite keys: the class of voucher:V2/user:U1 is voucher:*/user:*, so
-- each user may redeem voucher V2 once; the limits of voucher:* or user:*
-- (the classes of the segments) do not apply to the composite key.
-------------------------------------------------------------------------------
SELECT c.key, l.scope FROM allot.can_redeem(ARRAY['voucher:V2/user:U1']) c
  JOIN allot.limits l ON l.id = c.limit_id;
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000318', ARRAY['voucher:V2/user:U1']);
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000319', ARRAY['voucher:V2/user:U1']);
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-00000000031a', ARRAY['voucher:V2/user:U2']);
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-00000000031b', ARRAY['voucher:V3/user:U1']);
-- The usual request names the composite key next to its parts.
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-00000000031c',
                    ARRAY['voucher:V2', 'user:U12', 'voucher:V2/user:U12']);
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-00000000031d',
                    ARRAY['voucher:V2', 'user:U12', 'voucher:V2/user:U12']);
SELECT key, limit_id, used FROM allot.counters WHERE key LIKE '%U12%' OR key = 'voucher:V2'
 ORDER BY key, limit_id;

-------------------------------------------------------------------------------
-- Valid ranges: a limit applies only while its valid range holds the
-- decision time. gift:G1's limit starts in April, gift:G2's ended yesterday.
-------------------------------------------------------------------------------
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000320', ARRAY['gift:G1']);
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000321', ARRAY['gift:G1']);
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000322', ARRAY['gift:G2']);
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000323', ARRAY['gift:G2']);
SELECT count(*) AS gift_counters FROM allot.counters WHERE key LIKE 'gift:%';
SET allot.clock_override = '2026-04-01 00:00:00+00';
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000324', ARRAY['gift:G1']);
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000325', ARRAY['gift:G1']);
SELECT key, limit_id, window_start, used FROM allot.counters WHERE key LIKE 'gift:%';
SET allot.clock_override = '2026-03-31 12:00:00+00';

-------------------------------------------------------------------------------
-- Shadow limits never deny, but count, and record where they would have
-- denied: in the grant event (detail.shadow_denied) and in allot.violations.
-------------------------------------------------------------------------------
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000330', ARRAY['promo:P1']);
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000331', ARRAY['promo:P1']);
SELECT kind, keys, detail FROM allot.events
 WHERE txn IN ('00000000-0000-4000-8000-000000000330', '00000000-0000-4000-8000-000000000331')
 ORDER BY seq;
SELECT key, limit_id, mode, window_start, used, max, excess FROM allot.violations ORDER BY key;
-- Shadow next to enforce: P2's enforced daily limit decides; its denial also
-- records the shadow limit that would have denied.
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000332', ARRAY['promo:P2']);
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000333', ARRAY['promo:P2']);
SELECT kind, keys, detail FROM allot.events
 WHERE txn IN ('00000000-0000-4000-8000-000000000332', '00000000-0000-4000-8000-000000000333')
 ORDER BY seq;

-------------------------------------------------------------------------------
-- allot.log_denials = off (superuser): denials are no longer logged; grants
-- still are.
-------------------------------------------------------------------------------
SET allot.log_denials = off;
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000340', ARRAY['user:U1']);
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000341', ARRAY['user:U11']);
SELECT kind, keys FROM allot.events
 WHERE txn IN ('00000000-0000-4000-8000-000000000340', '00000000-0000-4000-8000-000000000341');
RESET allot.log_denials;
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000340', ARRAY['user:U1']);
SELECT kind, keys FROM allot.events WHERE txn = '00000000-0000-4000-8000-000000000340';

-- After all of this, the counters agree with the log, and no enforced limit
-- holds more than its max.
SELECT * FROM allot.verify();
SELECT key, mode, used, max FROM allot.violations WHERE mode = 'enforce';

DROP EXTENSION pg_allot CASCADE;
