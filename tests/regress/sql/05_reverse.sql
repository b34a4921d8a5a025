-- 05_reverse: allot.reverse(txn, reason) gives back what a granted txn
-- consumed, in the windows it was counted in.
--   * true the first time, false after that, false for a txn never granted;
--   * NULL txn is an error (22023);
--   * a replay of a reversed txn is still a replay: nothing is consumed;
--   * transactional: a rolled-back reverse leaves the grant in place;
--   * the reverse event carries the reason.

SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_allot;
RESET client_min_messages;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
SET allot.clock_override = '2026-03-31 12:00:00+00';

SELECT allot.set_limit('refund:*', 2, '1 day');    -- 1
SELECT allot.set_limit('card:*', 10);              -- 2: a total

-------------------------------------------------------------------------------
-- true once, then false; false for a txn that was never granted (unknown,
-- or denied), and no trace of it is left in allot.txns.
-------------------------------------------------------------------------------
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000501', ARRAY['refund:R1', 'card:C1'], 2);
SELECT key, limit_id, window_start, used FROM allot.counters ORDER BY key, limit_id;
SELECT allot.reverse('00000000-0000-4000-8000-000000000501') AS reversed;
SELECT key, limit_id, window_start, used FROM allot.counters ORDER BY key, limit_id;
SELECT allot.reverse('00000000-0000-4000-8000-000000000501') AS reversed_again;
SELECT allot.reverse('00000000-0000-4000-8000-0000000005ff') AS reversed_unknown;
SELECT count(*) AS txn_rows FROM allot.txns WHERE txn = '00000000-0000-4000-8000-0000000005ff';
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000502', ARRAY['refund:R1'], 3);
SELECT allot.reverse('00000000-0000-4000-8000-000000000502') AS reversed_denied;
-- The room is back: 2 units fit again today.
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000503', ARRAY['refund:R1'], 2);

-- NULL txn is an error.
\set VERBOSITY sqlstate
SELECT allot.reverse(NULL);
\set VERBOSITY default
SELECT allot.reverse(NULL, 'no txn');

-------------------------------------------------------------------------------
-- A replay of a reversed txn returns the stored decision (replayed = true)
-- and consumes nothing: a reversed txn is not granted again.
-------------------------------------------------------------------------------
SELECT count(*) AS events_before FROM allot.events \gset
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000501', ARRAY['refund:R1', 'card:C1'], 2);
SELECT key, limit_id, window_start, used FROM allot.counters ORDER BY key, limit_id;
SELECT count(*) - :events_before AS new_events FROM allot.events;
-- ... and the same txn with other keys is still a conflict.
SELECT allot.redeem('00000000-0000-4000-8000-000000000501', ARRAY['refund:R1']);

-------------------------------------------------------------------------------
-- Given back in the window it was counted in: a grant made yesterday
-- (Mar 31, 23:00) and reversed today (Apr 1) frees yesterday's window and
-- leaves today's alone.
-------------------------------------------------------------------------------
SET allot.clock_override = '2026-03-31 23:00:00+00';
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000510', ARRAY['refund:R2']);
SET allot.clock_override = '2026-04-01 01:00:00+00';
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000511', ARRAY['refund:R2'], 2);
SELECT window_start, used FROM allot.counters WHERE key = 'refund:R2' ORDER BY window_start;
SELECT allot.reverse('00000000-0000-4000-8000-000000000510', 'late refund') AS reversed;
SELECT window_start, used FROM allot.counters WHERE key = 'refund:R2' ORDER BY window_start;
-- Today's window is still full: reversing yesterday's grant made no room today.
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000512', ARRAY['refund:R2']);

-------------------------------------------------------------------------------
-- Transactional: a reverse in a transaction that rolls back never happened.
-------------------------------------------------------------------------------
BEGIN;
SELECT allot.reverse('00000000-0000-4000-8000-000000000511') AS reversed_in_txn;
SELECT window_start, used FROM allot.counters WHERE key = 'refund:R2' ORDER BY window_start;
ROLLBACK;
SELECT window_start, used FROM allot.counters WHERE key = 'refund:R2' ORDER BY window_start;
SELECT reversed_at IS NULL AS still_granted FROM allot.txns
 WHERE txn = '00000000-0000-4000-8000-000000000511';
SELECT count(*) AS reverse_events FROM allot.events
 WHERE txn = '00000000-0000-4000-8000-000000000511' AND kind = 'reverse';
-- ... the same in a savepoint rolled back.
BEGIN;
SAVEPOINT s;
SELECT allot.reverse('00000000-0000-4000-8000-000000000511') AS reversed_in_savepoint;
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT window_start, used FROM allot.counters WHERE key = 'refund:R2' ORDER BY window_start;
-- So it can still be reversed, once.
SELECT allot.reverse('00000000-0000-4000-8000-000000000511', 'order cancelled') AS reversed;
SELECT window_start, used FROM allot.counters WHERE key = 'refund:R2' ORDER BY window_start;

-- Granted and reversed in one transaction: nothing left counted.
BEGIN;
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000513', ARRAY['card:C2'], 4);
SELECT allot.reverse('00000000-0000-4000-8000-000000000513') AS reversed;
COMMIT;
SELECT key, used FROM allot.counters WHERE key = 'card:C2';

-- A key without limits: the grant counted nothing, and reversing it is
-- still a reversal (true once) and is logged.
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000514', ARRAY['shop:S1']);
SELECT allot.reverse('00000000-0000-4000-8000-000000000514') AS reversed;
SELECT allot.reverse('00000000-0000-4000-8000-000000000514') AS reversed_again;

-------------------------------------------------------------------------------
-- The log: every reverse event repeats the windows it gave back
-- (detail.counted) and the reason when one was given.
-------------------------------------------------------------------------------
SELECT e.txn, e.kind, e.keys, e.amount, e.detail
  FROM allot.events e WHERE e.kind = 'reverse' ORDER BY e.seq;
SELECT txn, reversed_at, reverse_reason FROM allot.txns
 WHERE reversed_at IS NOT NULL ORDER BY txn;

-- Counters still agree with the log.
SELECT * FROM allot.verify();

DROP EXTENSION pg_allot CASCADE;
