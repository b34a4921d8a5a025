-- 12_retention: the event log's retention (allot.archive_events,
-- allot.drop_archived_events).
--   * only folded events older than the replay window move to
--     allot.events_archive, one partition per UTC day, created as needed;
--   * nothing about usage changes: allot.usage, allot.txns (whole log) and
--     allot.verify() read the same before and after;
--   * a grant inside the window is still a replay; one archived is decided
--     afresh (the replay window is the idempotency promise);
--   * allot.reverse finds archived grants, and still reverses once only;
--   * dropping old days keeps their sums in allot.archived_usage, so
--     verify() stays empty; a dropped grant can no longer be reversed;
--   * bad arguments (NULL, negative, or reaching beyond the timestamp
--     range or past now) are refused with 22023, a message naming the
--     argument, and change nothing;
--   * only allot_admin may archive or drop; allot_auditor may read.

SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pg_allot CASCADE;
CREATE EXTENSION pg_allot;
RESET client_min_messages;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';

SELECT allot.set_limit('ret:*', 10, '1 day') AS daily, allot.set_limit('card:*', 100) AS total;

-- Day 1: T1, T2, T4 and T6 granted; day 2: T1 reversed; day 9: T3.
SET allot.clock_override = '2026-03-01 12:00:00+00';
SELECT granted, replayed FROM allot.redeem('00000000-0000-4000-8000-000000001201', ARRAY['ret:A', 'card:C'], 2);
SELECT granted, replayed FROM allot.redeem('00000000-0000-4000-8000-000000001202', ARRAY['ret:A', 'card:C'], 3);
SELECT granted, replayed FROM allot.redeem('00000000-0000-4000-8000-000000001204', ARRAY['ret:B', 'card:C'], 1);
SELECT granted, replayed FROM allot.redeem('00000000-0000-4000-8000-000000001206', ARRAY['ret:C'], 1);
SET allot.clock_override = '2026-03-02 12:00:00+00';
SELECT allot.reverse('00000000-0000-4000-8000-000000001201', 'refund') AS reversed_t1;
SET allot.clock_override = '2026-03-09 12:00:00+00';
SELECT granted, replayed FROM allot.redeem('00000000-0000-4000-8000-000000001203', ARRAY['ret:A', 'card:C'], 1);
SELECT count(*) AS rollup_ran FROM allot.rollup();  -- (the worker may have folded first)

SET allot.clock_override = '2026-03-10 12:00:00+00';
CREATE TEMP TABLE before_usage AS
  SELECT c.key, c.limit_id, c.window_start, c.used FROM allot.counters c;
CREATE TEMP TABLE before_txns AS SELECT * FROM allot.txns;

-------------------------------------------------------------------------------
-- Bad arguments: 22023, nothing moved or dropped.
-------------------------------------------------------------------------------
\set VERBOSITY sqlstate
SELECT allot.archive_events(NULL);
SELECT allot.archive_events('-1 day');
SELECT * FROM allot.drop_archived_events(NULL);
SELECT * FROM allot.drop_archived_events('-1 second');
-- now - the argument is before 4713 BC: no bare 22008 "timestamp out of range"
SELECT allot.archive_events('100000000 years');
SELECT allot.archive_events('200000000 hours');
SELECT allot.archive_events('2147483647 days');
SELECT * FROM allot.drop_archived_events('100000000 years');
SELECT * FROM allot.drop_archived_events('200000000 hours');
-- not negative as an interval, but now - it is after now (2026-03-10 - 1
-- month + 30 days = 2026-03-12)
SELECT allot.archive_events('1 mon -30 days');
SELECT * FROM allot.drop_archived_events('1 mon -30 days');
\set VERBOSITY default
SELECT allot.archive_events('-1 day');
SELECT allot.archive_events('100000000 years');
SELECT * FROM allot.drop_archived_events('200000000 hours');
SELECT allot.archive_events('1 mon -30 days');
SELECT count(*) AS archived FROM allot.events_archive;
SELECT count(*) AS not_archived FROM allot.events;

-------------------------------------------------------------------------------
-- Archive with a 7-day replay window (cutoff 2026-03-03 12:00).
-------------------------------------------------------------------------------
SELECT allot.archive_events('7 days') AS moved;
SELECT c.relname AS partition, pg_get_expr(c.relpartbound, c.oid) AS bounds
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'allot.events_archive'::regclass ORDER BY 1;
SELECT tableoid::regclass AS lives_in, kind, txn, at FROM allot.events_archive ORDER BY seq;
SELECT kind, txn, at FROM allot.events ORDER BY seq;
-- only folded events move
SELECT count(*) AS unfolded_archived FROM allot.events_archive
 WHERE seq > (SELECT last_seq FROM allot.rollup_state);
-- usage, txns and verify() are as before
SELECT count(*) AS counters_changed FROM (
  (SELECT * FROM before_usage EXCEPT SELECT key, limit_id, window_start, used FROM allot.counters)
  UNION ALL
  (SELECT key, limit_id, window_start, used FROM allot.counters EXCEPT SELECT * FROM before_usage)) d;
SELECT count(*) AS txns_changed FROM (
  (SELECT * FROM before_txns EXCEPT SELECT * FROM allot.txns)
  UNION ALL (SELECT * FROM allot.txns EXCEPT SELECT * FROM before_txns)) d;
SELECT * FROM allot.verify();
-- a second run finds nothing more to move
SELECT allot.archive_events('7 days') AS moved_again;

-------------------------------------------------------------------------------
-- Replays: inside the window a replay; archived, decided afresh.
-------------------------------------------------------------------------------
SELECT granted, replayed FROM allot.redeem('00000000-0000-4000-8000-000000001203', ARRAY['ret:A', 'card:C'], 1);
SELECT granted, replayed FROM allot.redeem('00000000-0000-4000-8000-000000001206', ARRAY['ret:C'], 1);
SELECT count(*) AS t6_grants FROM allot.event_log
 WHERE txn = '00000000-0000-4000-8000-000000001206' AND kind = 'grant';

-------------------------------------------------------------------------------
-- Reversals find archived grants, once; an archived reversal counts.
-------------------------------------------------------------------------------
SELECT used FROM allot.counters WHERE key = 'ret:A' AND window_start = '2026-03-01 00:00:00+00';
SELECT allot.reverse('00000000-0000-4000-8000-000000001202', 'late refund') AS reversed_t2;
SELECT allot.reverse('00000000-0000-4000-8000-000000001202') AS reversed_t2_again;
SELECT allot.reverse('00000000-0000-4000-8000-000000001201') AS reversed_t1_again;
SELECT used FROM allot.counters WHERE key = 'ret:A' AND window_start = '2026-03-01 00:00:00+00';
SELECT txn, amount, reversed_at, reverse_reason FROM allot.txns ORDER BY txn;
SELECT * FROM allot.verify();

-------------------------------------------------------------------------------
-- Drop the days that ended at least 8 days ago (before 2026-03-02 12:00):
-- 2026-03-01 goes, 2026-03-02 stays.
-------------------------------------------------------------------------------
-- first with arguments it refuses: nothing is dropped
\set VERBOSITY sqlstate
SELECT * FROM allot.drop_archived_events('100000000 years');
SELECT * FROM allot.drop_archived_events('-8 days');
SELECT * FROM allot.drop_archived_events(NULL);
\set VERBOSITY default
SELECT count(*) AS partitions_kept FROM pg_inherits WHERE inhparent = 'allot.events_archive'::regclass;
SELECT * FROM allot.drop_archived_events('8 days');
SELECT c.relname AS partition
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'allot.events_archive'::regclass ORDER BY 1;
SELECT key, limit_id, window_start, units FROM allot.archived_usage ORDER BY 1, 2, 3;
SELECT * FROM allot.verify();
SELECT key, used, max FROM allot.usage ORDER BY key;
-- T4's grant was in the dropped day: it can no longer be reversed
SELECT allot.reverse('00000000-0000-4000-8000-000000001204') AS reversed_t4;
SELECT * FROM allot.drop_archived_events('8 days');

-------------------------------------------------------------------------------
-- Who may do what.
-------------------------------------------------------------------------------
SET ROLE allot_client;
SELECT allot.archive_events('7 days');
SELECT * FROM allot.drop_archived_events('8 days');
RESET ROLE;
SET ROLE allot_auditor;
SELECT count(*) AS log_rows FROM allot.event_log;
SELECT allot.archive_events('7 days');
RESET ROLE;

-- The rollup and new redemptions carry on.
SELECT granted, replayed FROM allot.redeem('00000000-0000-4000-8000-000000001205', ARRAY['ret:A'], 1);
SELECT count(*) AS rollup_ran FROM allot.rollup();  -- (the worker may have folded first)
SELECT * FROM allot.verify();
RESET allot.clock_override;
