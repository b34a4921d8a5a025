-- 16_fold_chunks: the rollup reads the log in chunks of 10,000 rows and
-- writes the counters once per 50,000 distinct counter rows. A fold across
-- many chunks, with a gap of a million seqs in the log and reversals in
-- later chunks than their grants, must count every fast-path unit once.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pg_allot CASCADE;
CREATE EXTENSION pg_allot;
RESET client_min_messages;
SELECT allot.set_limit('fc:*', 1000, '1 day', sliding => false) AS day_limit \gset

-- 60,000 fast-path grants written by hand (as a preloaded server that
-- stopped before its rollup would leave them): keys fc:0 .. fc:59999, one
-- unit each, except every 1,000th key, which is granted 3 units.
INSERT INTO allot.events (txn, at, kind, keys, amount, path, detail)
SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
       '2026-02-01 10:00+00', 'grant', ARRAY['fc:' || i],
       CASE WHEN i % 1000 = 0 THEN 3 ELSE 1 END, 'fast',
       jsonb_build_object('counted', jsonb_build_array(
         jsonb_build_array('fc:' || i, :day_limit, '2026-02-01T00:00:00.000000Z', 'f')))
  FROM generate_series(0, 59999) AS i;
-- A gap of a million seqs, then the reversals of the 3-unit grants.
SELECT setval(pg_get_serial_sequence('allot.events', 'seq'),
              (SELECT max(seq) FROM allot.events) + 1000000) > 0 AS gap_made;
INSERT INTO allot.events (txn, at, kind, keys, amount, path, detail)
SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
       '2026-02-01 11:00+00', 'reverse', ARRAY['fc:' || i], 3, 'fast',
       jsonb_build_object('counted', jsonb_build_array(
         jsonb_build_array('fc:' || i, :day_limit, '2026-02-01T00:00:00.000000Z', 'f')))
  FROM generate_series(0, 59999, 1000) AS i;
-- A redemption after them: every writer notes its log position, so the
-- fold's horizon (with the preload) passes the hand-written events too.
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-0000000fc001', ARRAY['other:x']);
SELECT events >= 0 AS rolled_up FROM allot.rollup();
SELECT count(*) AS unfolded_rows FROM allot.unfolded;

-- 60,000 counter rows: 59,940 with 1 unit, 60 granted 3 and reversed (0).
SELECT count(*) AS counter_rows, sum(used) AS units,
       count(*) FILTER (WHERE used = 0) AS reversed_rows,
       count(*) FILTER (WHERE used NOT IN (0, 1)) AS other_rows
  FROM allot.counters WHERE key LIKE 'fc:%';
SELECT count(*) AS verify_rows FROM allot.verify();

DROP EXTENSION pg_allot CASCADE;
