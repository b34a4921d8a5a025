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

DROP EXTENSION pg_allot CASCADE;
