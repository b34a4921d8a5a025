-- 06_transactions: redeem runs inside the caller's transaction.
--   * if that transaction rolls back, nothing stays: no usage, no txn, no
--     event (not even a denial's);
--   * a savepoint rolled back undoes only what happened inside it;
--   * a txn whose grant was rolled back was never granted: it is decided
--     afresh later (replayed = false);
--   * inside one transaction, later calls see earlier grants.

SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_allot;
RESET client_min_messages;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
SET allot.clock_override = '2026-03-31 12:00:00+00';

SELECT allot.set_limit('ticket:*', 2, '1 day');    -- 1

-- What exists for a set of txns: granted txn rows, events, and usage.
CREATE FUNCTION pg_temp.trace(keys text[]) RETURNS TABLE (txns bigint, events bigint, used bigint, entities bigint)
LANGUAGE sql AS $$
  SELECT (SELECT count(*) FROM allot.txns t WHERE t.keys && trace.keys),
         (SELECT count(*) FROM allot.events e WHERE e.keys && trace.keys),
         (SELECT coalesce(sum(c.used), 0) FROM allot.counters c WHERE c.key = ANY (trace.keys)),
         (SELECT count(*) FROM allot.entities en WHERE en.key = ANY (trace.keys))
$$;

-------------------------------------------------------------------------------
-- A transaction that rolls back leaves nothing: not the grant, not the
-- denial's event, not the entity row.
-------------------------------------------------------------------------------
BEGIN;
SELECT granted, replayed FROM allot.redeem('00000000-0000-4000-8000-000000000601', ARRAY['ticket:T1'], 2);
SELECT granted, replayed FROM allot.redeem('00000000-0000-4000-8000-000000000602', ARRAY['ticket:T1']);
SELECT * FROM pg_temp.trace(ARRAY['ticket:T1']);
ROLLBACK;
SELECT * FROM pg_temp.trace(ARRAY['ticket:T1']);

-- The rolled-back txn was never granted: the same txn is decided afresh
-- (replayed = false) and granted now.
SELECT granted, replayed FROM allot.redeem('00000000-0000-4000-8000-000000000601', ARRAY['ticket:T1'], 2);
SELECT * FROM pg_temp.trace(ARRAY['ticket:T1']);
-- A second call with that txn is a replay now that it is committed.
SELECT granted, replayed FROM allot.redeem('00000000-0000-4000-8000-000000000601', ARRAY['ticket:T1'], 2);

-- An error later in the transaction aborts it: the grant goes with it.
BEGIN;
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000603', ARRAY['ticket:T2']);
SELECT 1 / 0;
COMMIT;
SELECT * FROM pg_temp.trace(ARRAY['ticket:T2']);

-------------------------------------------------------------------------------
-- Savepoints: rolling back to a savepoint undoes the grant made after it,
-- and keeps the one made before it.
-------------------------------------------------------------------------------
BEGIN;
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000610', ARRAY['ticket:T3']);
SAVEPOINT s1;
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000611', ARRAY['ticket:T3']);
SELECT * FROM pg_temp.trace(ARRAY['ticket:T3']);
ROLLBACK TO SAVEPOINT s1;
SELECT * FROM pg_temp.trace(ARRAY['ticket:T3']);
-- The day's second unit is free again, for another txn ...
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000612', ARRAY['ticket:T3']);
COMMIT;
SELECT t.txn, t.amount FROM allot.txns t WHERE t.keys && ARRAY['ticket:T3'] ORDER BY t.txn;
SELECT * FROM pg_temp.trace(ARRAY['ticket:T3']);
-- ... and txn 611, rolled back, is not a grant: today it is denied (full).
SELECT granted, replayed, denied_keys FROM allot.redeem('00000000-0000-4000-8000-000000000611', ARRAY['ticket:T3']);

-- A savepoint holding a denial: its deny event goes with the savepoint.
BEGIN;
SAVEPOINT s2;
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000000613', ARRAY['ticket:T3']);
ROLLBACK TO SAVEPOINT s2;
COMMIT;
SELECT count(*) AS events_of_613 FROM allot.events WHERE txn = '00000000-0000-4000-8000-000000000613';

-- An error inside a subtransaction (a PL/pgSQL exception block) undoes the
-- grant made in it; the caller goes on.
DO $$
BEGIN
  BEGIN
    PERFORM allot.redeem('00000000-0000-4000-8000-000000000620', ARRAY['ticket:T4']);
    RAISE EXCEPTION 'later step failed';
  EXCEPTION WHEN raise_exception THEN
    RAISE NOTICE 'caught: %', SQLERRM;
  END;
END
$$;
SELECT * FROM pg_temp.trace(ARRAY['ticket:T4']);

-------------------------------------------------------------------------------
-- Inside one transaction, a later redeem sees the earlier grants (the
-- limit is 2 a day) and a repeated txn is a replay.
-------------------------------------------------------------------------------
BEGIN;
SELECT granted, replayed FROM allot.redeem('00000000-0000-4000-8000-000000000630', ARRAY['ticket:T5']);
SELECT granted, replayed FROM allot.redeem('00000000-0000-4000-8000-000000000630', ARRAY['ticket:T5']);
SELECT granted, replayed FROM allot.redeem('00000000-0000-4000-8000-000000000631', ARRAY['ticket:T5']);
SELECT granted, replayed, denied_keys FROM allot.redeem('00000000-0000-4000-8000-000000000632', ARRAY['ticket:T5']);
COMMIT;
SELECT * FROM pg_temp.trace(ARRAY['ticket:T5']);

-- redeem_many in a rolled-back transaction leaves nothing either.
BEGIN;
SELECT idx, granted FROM allot.redeem_many('[
  {"txn": "00000000-0000-4000-8000-000000000640", "keys": ["ticket:T6"]},
  {"txn": "00000000-0000-4000-8000-000000000641", "keys": ["ticket:T6"]},
  {"txn": "00000000-0000-4000-8000-000000000642", "keys": ["ticket:T6"]}]');
ROLLBACK;
SELECT * FROM pg_temp.trace(ARRAY['ticket:T6']);

-- Everything that stayed agrees with the log.
SELECT * FROM allot.verify();

DROP EXTENSION pg_allot CASCADE;
