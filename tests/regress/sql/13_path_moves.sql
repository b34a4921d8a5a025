-- 13_path_moves: allot.set_path called again for the same key in one
-- transaction, and a key redeemed in the transaction that moves it. A
-- transaction never waits for itself: the last move wins at commit (as
-- two UPDATEs of one row would), a key being moved is redeemed on the slow
-- path, and a key the transaction already redeemed on the fast path cannot
-- be moved to the slow path in it (an error at once, 55000).
--
-- Two expected files: 13_path_moves.out (preloaded) and 13_path_moves_1.out
-- (not preloaded: every redemption is 'slow' and set_path 'fast' is
-- refused, 55000). Every call goes through pg_temp.try, so an error shows
-- its SQLSTATE and leaves the transaction usable.
--
-- statement_timeout: a call that waited for its own transaction used to
-- fail after ~10 s with 55P03; here it fails after 3 s with 57014, which
-- the expected output does not have. The rollup worker leaves a key alone
-- for allot.path_hold_seconds (5 s) after it changed, longer than this file
-- runs.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_allot;
RESET client_min_messages;
SET timezone = 'UTC';
SET allot.fast_path = on;  -- the harness turns it off for the other files
SET statement_timeout = '3s';

SELECT allot._preloaded() AS preloaded;
SELECT allot.set_limit('pathmove:*', 10) > 0 AS limit_set;

-- Runs one call in a subtransaction: its result, or its SQLSTATE and message.
CREATE FUNCTION pg_temp.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  r text;
BEGIN
  EXECUTE sql INTO r;
  RETURN r;
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

CREATE FUNCTION pg_temp.move(k text, p text) RETURNS text LANGUAGE sql AS $$
  SELECT pg_temp.try(format('SELECT allot.set_path(%L, %L)', k, p))
$$;

-- One unit of k: 'granted <path>' or why not.
CREATE FUNCTION pg_temp.redeem(k text) RETURNS text LANGUAGE sql AS $$
  SELECT pg_temp.try(format(
    'SELECT CASE WHEN granted THEN ''granted '' || path ELSE ''denied'' END FROM allot.redeem(%L, ARRAY[%L])',
    gen_random_uuid(), k))
$$;

-- Where a key is: its durable flag, the units on its shared-memory meter
-- (only while it is on the fast path with the preload) and the units
-- counted for it. (A slow marker in shared memory may be retired by the
-- worker at any time, so its state is not shown; the next redemption's path
-- shows where the key is.)
CREATE FUNCTION pg_temp.where_is(k text)
RETURNS TABLE (durable text, meter_used bigint, usage_used bigint) LANGUAGE sql AS $$
  SELECT (SELECT e.path FROM allot.entity_state e WHERE e.key = k),
         (SELECT (s.meters->0->>2)::bigint FROM allot._shared_keys() s WHERE s.key = k AND s.state = 'fast'),
         (SELECT coalesce(sum(u.used), 0)::bigint FROM allot.usage u WHERE u.key = k)
$$;

-------------------------------------------------------------------------------
-- A key not in shared memory, moved four times in one transaction: each
-- call answers at once with the path the one before it chose; the last
-- one (slow) wins.
-------------------------------------------------------------------------------
BEGIN;
SELECT pg_temp.move('pathmove:a', 'slow') AS was;
SELECT pg_temp.move('pathmove:a', 'slow') AS was;
SELECT pg_temp.move('pathmove:a', 'fast') AS was;
SELECT pg_temp.move('pathmove:a', 'slow') AS was;
COMMIT;
SELECT * FROM pg_temp.where_is('pathmove:a');
SELECT pg_temp.redeem('pathmove:a') AS redeemed;

-- Slow, then fast: fast wins (the slot is emptied at commit and loaded
-- afresh by the next redemption).
BEGIN;
SELECT pg_temp.move('pathmove:b', 'slow') AS was;
SELECT pg_temp.move('pathmove:b', 'fast') AS was;
COMMIT;
SELECT pg_temp.redeem('pathmove:b') AS redeemed;
SELECT * FROM pg_temp.where_is('pathmove:b');

-------------------------------------------------------------------------------
-- A key on the fast path, moved to the slow path and back in one
-- transaction, and redeemed in between: the redemptions take the slow path
-- (the key is closed for everyone else until we commit), and the key comes
-- back with every unit counted.
-------------------------------------------------------------------------------
SELECT pg_temp.redeem('pathmove:c') AS redeemed;
BEGIN;
SELECT pg_temp.move('pathmove:c', 'slow') AS was;
SELECT pg_temp.redeem('pathmove:c') AS redeemed;
SELECT pg_temp.move('pathmove:c', 'fast') AS was;
SELECT pg_temp.redeem('pathmove:c') AS redeemed;
COMMIT;
SELECT pg_temp.redeem('pathmove:c') AS redeemed;
SELECT * FROM pg_temp.where_is('pathmove:c');

-- Redeemed on the fast path first, then moved in the same transaction: the
-- transaction's own units cannot be folded before it commits, so the move
-- is refused at once; the redemption itself stands.
BEGIN;
SELECT pg_temp.redeem('pathmove:c') AS redeemed;
SELECT pg_temp.move('pathmove:c', 'slow') AS was;
SELECT pg_temp.move('pathmove:c', 'fast') AS was;
COMMIT;
SELECT * FROM pg_temp.where_is('pathmove:c');

-------------------------------------------------------------------------------
-- Savepoints: a move rolled back to a savepoint is undone, the one before
-- it stays; a transaction rolled back moves nothing.
-------------------------------------------------------------------------------
BEGIN;
SELECT pg_temp.move('pathmove:d', 'slow') AS was;
SAVEPOINT s1;
SELECT pg_temp.move('pathmove:d', 'fast') AS was;
ROLLBACK TO SAVEPOINT s1;
COMMIT;
SELECT * FROM pg_temp.where_is('pathmove:d');
SELECT pg_temp.redeem('pathmove:d') AS redeemed;

SELECT pg_temp.redeem('pathmove:e') AS redeemed;
BEGIN;
SELECT pg_temp.move('pathmove:e', 'slow') AS was;
SELECT pg_temp.redeem('pathmove:e') AS redeemed;
SELECT pg_temp.move('pathmove:e', 'slow') AS was;
ROLLBACK;
SELECT * FROM pg_temp.where_is('pathmove:e');
SELECT pg_temp.redeem('pathmove:e') AS redeemed;
SELECT * FROM pg_temp.where_is('pathmove:e');

-------------------------------------------------------------------------------
-- The log and the counters agree.
-------------------------------------------------------------------------------
SELECT events >= 0 AS rolled_up FROM allot.rollup();
SELECT key, sum(used) AS counted FROM allot.counters WHERE key LIKE 'pathmove:%' GROUP BY key ORDER BY key;
SELECT count(*) AS verify_rows FROM allot.verify() WHERE key LIKE 'pathmove:%';
RESET statement_timeout;
