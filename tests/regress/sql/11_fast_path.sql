-- 11_fast_path: with pg_allot preloaded, limited keys are decided on the
-- fast path (shared-memory meters, no row locks) with exactly the answers
-- the slow path gives, and units reserved by a redemption go back when it
-- does not commit: ROLLBACK, ROLLBACK TO SAVEPOINT, an ERROR raised inside
-- redeem itself, and PREPARE TRANSACTION (refused).
--
-- Two expected files: 11_fast_path.out (preloaded: path = 'fast', meters
-- listed) and 11_fast_path_1.out (not preloaded: everything 'slow'). The
-- first line printed, preloaded = t/f, makes a preloaded run that fell back
-- to the slow path match neither.
--
-- The rollup worker runs beside this test; it leaves a key alone for
-- allot.path_hold_seconds (5 s) after the key was loaded, so each key is
-- used right after its first redemption.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_allot;
RESET client_min_messages;
SET timezone = 'UTC';
SET allot.fast_path = on;  -- the harness turns it off for the other files

SELECT allot._preloaded() AS preloaded;

SELECT allot.set_limit('fp:*', 3) > 0 AS limit_set;
SELECT allot.set_limit('fph:*', 2, '1 hour', sliding => false) > 0 AS limit_set;

-- Units on a key's meters as shared memory holds them (nothing when not
-- preloaded) and as allot.usage reports them (counters + unfolded grants).
CREATE FUNCTION pg_temp.units(k text) RETURNS TABLE (state text, meter_used bigint, usage_used bigint)
LANGUAGE sql AS $$
  SELECT (SELECT s.state FROM allot._shared_keys() s WHERE s.key = k),
         (SELECT (s.meters->0->>2)::bigint FROM allot._shared_keys() s WHERE s.key = k),
         (SELECT coalesce(sum(u.used), 0)::bigint FROM allot.usage u WHERE u.key = k)
$$;

-------------------------------------------------------------------------------
-- A first redemption loads the key into shared memory and is decided there.
-------------------------------------------------------------------------------
SELECT granted, replayed, path FROM allot.redeem('00000000-0000-4000-8000-000000001101', ARRAY['fp:A']);
SELECT * FROM pg_temp.units('fp:A');
-- A replay is answered from the log, on any path, and counts nothing.
SELECT granted, replayed, path FROM allot.redeem('00000000-0000-4000-8000-000000001101', ARRAY['fp:A']);
SELECT * FROM pg_temp.units('fp:A');

-------------------------------------------------------------------------------
-- ROLLBACK gives the transaction's units back.
-------------------------------------------------------------------------------
BEGIN;
SELECT granted, path FROM allot.redeem('00000000-0000-4000-8000-000000001102', ARRAY['fp:A'], 2);
SELECT * FROM pg_temp.units('fp:A');
ROLLBACK;
SELECT * FROM pg_temp.units('fp:A');

-------------------------------------------------------------------------------
-- ROLLBACK TO SAVEPOINT gives back what was reserved inside the savepoint
-- only; the units are there for the next redemption.
-------------------------------------------------------------------------------
BEGIN;
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000001103', ARRAY['fph:H']);
SAVEPOINT s1;
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000001104', ARRAY['fph:H']);
SELECT * FROM pg_temp.units('fph:H');
ROLLBACK TO SAVEPOINT s1;
SELECT * FROM pg_temp.units('fph:H');
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000001105', ARRAY['fph:H']);
-- Full now: the third unit is denied.
SELECT granted, denied_keys FROM allot.redeem('00000000-0000-4000-8000-000000001106', ARRAY['fph:H']);
COMMIT;
SELECT * FROM pg_temp.units('fph:H');

-------------------------------------------------------------------------------
-- Exactly max: fp:A has 1 of 3; asking for 3 more is denied, 2 is granted,
-- then nothing more.
-------------------------------------------------------------------------------
SELECT granted, denied_keys FROM allot.redeem('00000000-0000-4000-8000-000000001107', ARRAY['fp:A'], 3);
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000001108', ARRAY['fp:A'], 2);
SELECT granted, denied_keys FROM allot.redeem('00000000-0000-4000-8000-000000001109', ARRAY['fp:A']);
SELECT * FROM pg_temp.units('fp:A');

-------------------------------------------------------------------------------
-- An ERROR inside redeem, after its units were reserved (here: a trigger
-- on the log refuses the grant's event), gives them back: caught in a
-- PL/pgSQL block (a subtransaction) and at top level.
-------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.refuse_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.txn = '00000000-0000-4000-8000-0000000011ee' THEN
    RAISE EXCEPTION 'refused by test trigger';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER refuse_event BEFORE INSERT ON allot.events
  FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse_event();

SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000001110', ARRAY['fp:B']);
DO $$
BEGIN
  PERFORM allot.redeem('00000000-0000-4000-8000-0000000011ee', ARRAY['fp:B'], 2);
EXCEPTION WHEN others THEN
  RAISE NOTICE 'caught: %', SQLERRM;
END $$;
SELECT * FROM pg_temp.units('fp:B');
\set VERBOSITY terse
SELECT allot.redeem('00000000-0000-4000-8000-0000000011ee', ARRAY['fp:B'], 2);
\set VERBOSITY default
SELECT * FROM pg_temp.units('fp:B');
DROP TRIGGER refuse_event ON allot.events;
-- The two units are there.
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000001111', ARRAY['fp:B'], 2);
SELECT * FROM pg_temp.units('fp:B');

-------------------------------------------------------------------------------
-- PREPARE TRANSACTION after a fast-path redemption is refused (its units
-- live in this backend's memory) and the units go back.
-------------------------------------------------------------------------------
BEGIN;
SELECT granted, path FROM allot.redeem('00000000-0000-4000-8000-000000001112', ARRAY['fp:C']);
PREPARE TRANSACTION 'pg_allot_fast_path_test';
SELECT * FROM pg_temp.units('fp:C');

-------------------------------------------------------------------------------
-- A committed reversal gives the units back to the meter.
-------------------------------------------------------------------------------
SELECT allot.reverse('00000000-0000-4000-8000-000000001108', 'test');
SELECT * FROM pg_temp.units('fp:A');
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000001113', ARRAY['fp:A'], 2);
SELECT * FROM pg_temp.units('fp:A');

-------------------------------------------------------------------------------
-- allot.set_path moves a key at commit; without the preload, 'fast' is
-- refused (55000).
-------------------------------------------------------------------------------
SELECT granted, path FROM allot.redeem('00000000-0000-4000-8000-000000001114', ARRAY['fp:D']);
SELECT allot.set_path('fp:D', 'slow') AS was;
SELECT granted, path FROM allot.redeem('00000000-0000-4000-8000-000000001115', ARRAY['fp:D']);
SELECT key, path FROM allot.entities WHERE key = 'fp:D';
SELECT allot.set_path('fp:D', 'fast') AS was;
SELECT granted, path FROM allot.redeem('00000000-0000-4000-8000-000000001116', ARRAY['fp:D']);
SELECT granted, path, denied_keys FROM allot.redeem('00000000-0000-4000-8000-000000001117', ARRAY['fp:D']);
SELECT * FROM pg_temp.units('fp:D');
SELECT allot.set_path('fp:D', 'sideways');

-------------------------------------------------------------------------------
-- After a rollup the counters hold every grant; the audit agrees.
-------------------------------------------------------------------------------
SELECT events >= 0 AS rolled_up FROM allot.rollup();
SELECT count(*) AS unfolded_rows FROM allot.unfolded WHERE key LIKE 'fp%';
SELECT c.key, sum(c.used) AS counted FROM allot.counters c WHERE c.key LIKE 'fp%' GROUP BY c.key ORDER BY c.key;
SELECT count(*) AS verify_rows FROM allot.verify();
SELECT count(*) AS violations FROM allot.violations;

-------------------------------------------------------------------------------
-- DROP EXTENSION + CREATE EXTENSION starts over in shared memory too: the
-- new log's grants are folded (the old fold position is forgotten) and the
-- old meters are gone (fp:A starts from 0 units, not from 3).
-------------------------------------------------------------------------------
SET client_min_messages = warning;
DROP EXTENSION pg_allot CASCADE;
CREATE EXTENSION pg_allot;
RESET client_min_messages;
SELECT allot.set_limit('fp:*', 3) > 0 AS limit_set;
SELECT granted, path FROM allot.redeem('00000000-0000-4000-8000-000000001121', ARRAY['fp:A']);
SELECT * FROM pg_temp.units('fp:A');
SELECT events >= 0 AS rolled_up FROM allot.rollup();
SELECT granted, path FROM allot.redeem('00000000-0000-4000-8000-000000001122', ARRAY['fp:A']);
SELECT events >= 0 AS rolled_up FROM allot.rollup();
SELECT count(*) AS unfolded_rows FROM allot.unfolded;
SELECT c.key, sum(c.used) AS counted FROM allot.counters c GROUP BY c.key ORDER BY c.key;
SELECT count(*) AS verify_rows FROM allot.verify();
