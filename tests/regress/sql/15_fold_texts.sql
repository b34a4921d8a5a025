-- 15_fold_texts: the rollup folds fast-path grants by the counted windows
-- in their details. It sums entries by their text and casts each group
-- once, so two texts that name the same window (as a writer with another
-- timestamp format would leave) must still land in one counter row, summed:
-- not two rows, and not an error from updating one row twice.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pg_allot CASCADE;
CREATE EXTENSION pg_allot;
RESET client_min_messages;
SELECT allot.set_limit('ft:*', 100, '1 day', sliding => false) AS day_limit \gset

-- Two fast-path grants of ft:a in the window of 2026-01-01, written by hand
-- with the window start spelled two ways.
INSERT INTO allot.events (txn, at, kind, keys, amount, path, detail) VALUES
  ('00000000-0000-4000-8000-0000000000f1', '2026-01-01 10:00+00', 'grant', '{ft:a}', 1, 'fast',
   jsonb_build_object('counted', jsonb_build_array(
     jsonb_build_array('ft:a', :day_limit, '2026-01-01 00:00:00+00', 'f')))),
  ('00000000-0000-4000-8000-0000000000f2', '2026-01-01 11:00+00', 'grant', '{ft:a}', 2, 'fast',
   jsonb_build_object('counted', jsonb_build_array(
     jsonb_build_array('ft:a', :day_limit, '2026-01-01T00:00:00.000000Z', 'f'))));
-- A redemption after them: every writer notes its log position, so the
-- fold's horizon (with the preload) passes the hand-written events too.
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-0000000000f3', ARRAY['ft:b']);
SELECT events >= 0 AS rolled_up FROM allot.rollup();
SELECT count(*) AS unfolded_rows FROM allot.unfolded;

SELECT key, window_start, used FROM allot.counters WHERE key = 'ft:a' ORDER BY window_start;
SELECT count(*) AS verify_rows FROM allot.verify();

-- A counted entry the fold cannot read (its key is not a string) stops the
-- rollup with a clear error, and nothing of that rollup stays: the counters
-- and the fold position are as before. Once the entry is gone, it goes on.
INSERT INTO allot.events (txn, at, kind, keys, amount, path, detail) VALUES
  ('00000000-0000-4000-8000-0000000000f4', '2026-01-01 12:00+00', 'grant', '{ft:a}', 4, 'fast',
   jsonb_build_object('counted', jsonb_build_array(
     jsonb_build_array(42, :day_limit, '2026-01-01 00:00:00+00', 'f'))));
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-0000000000f5', ARRAY['ft:b']);
SELECT last_seq AS seq_before FROM allot.rollup_state \gset
\set VERBOSITY terse
SELECT events FROM allot.rollup();
\set VERBOSITY default
SELECT last_seq = :seq_before AS fold_position_kept FROM allot.rollup_state;
SELECT key, used FROM allot.counters WHERE key = 'ft:a';
DELETE FROM allot.events WHERE txn = '00000000-0000-4000-8000-0000000000f4';
SELECT events >= 1 AS rolled_up FROM allot.rollup();
SELECT count(*) AS unfolded_rows FROM allot.unfolded;
SELECT key, used FROM allot.counters WHERE key LIKE 'ft:%' ORDER BY key;
SELECT count(*) AS verify_rows FROM allot.verify();

DROP EXTENSION pg_allot CASCADE;
