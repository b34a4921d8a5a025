-- pg_allot 0.1 -> 0.2: ALTER EXTENSION pg_allot UPDATE TO '0.2'.
--
-- What changes (see pg_allot--0.2.sql for the objects themselves):
--   * allot.txns, a table in 0.1, becomes a view over allot.events; a txn's
--     idempotency moves to two unique partial indexes on allot.events
--     (events_grant_txn, events_reverse_txn).
--   * allot.entities, a table in 0.1, becomes a view over the new tables
--     allot.entity_state (path flag, locked by slow-path redemptions) and
--     allot.key_activity (rate, written by the rollup alone) and the keys in
--     shared memory (allot._shared_keys()).
--   * allot.rollup_state gains unfolded_possible (between last_seq and
--     last_at, as in a fresh install, so the table is rebuilt).
--   * allot.rollup() is implemented in C; allot._note_rollup() is gone.
--   * allot.limits gets the statement trigger limits_changed
--     (allot._limits_changed()), which drops the limits backends cache.
--   * New: allot.set_path, allot._shared_keys, allot._preloaded, the view
--     allot.unfolded; allot.usage, allot.violations and allot.verify() also
--     count fast-path grants not folded yet.
--
-- Data: limits (ids included), counters, events and the rollup watermark
-- are kept as they are. Every 0.1 txns row must be answered the same by the
-- 0.2 view; the script checks that before dropping the table, restores log
-- events that 0.1 kept only in allot.txns, and refuses (ERROR, nothing
-- changed) where the two disagree in a way it cannot repair.
--
-- Like the install script, everything is schema-qualified and the
-- SECURITY DEFINER functions fix their search_path.

\echo Use "ALTER EXTENSION pg_allot UPDATE TO '0.2'" to load this file. \quit

-------------------------------------------------------------------------------
-- 0. Keep 0.1 writers out while we move things. Redemptions and reversals
--    of a 0.1 library (an old backend) write entities, txns, counters and
--    events; a rollup reads rollup_state first. The locks are taken in that
--    order (rollup_state first, then the order a redemption uses) and held
--    to commit, so the checks below see the final 0.1 data.
-------------------------------------------------------------------------------
LOCK TABLE allot.rollup_state, allot.entities, allot.txns, allot.counters, allot.events
  IN ACCESS EXCLUSIVE MODE;

-- Roles, as in the install script (cluster-wide; only created when missing).
DO $roles$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'allot_client') THEN
    CREATE ROLE allot_client NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'allot_auditor') THEN
    CREATE ROLE allot_auditor NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'allot_admin') THEN
    CREATE ROLE allot_admin NOLOGIN;
  END IF;
END
$roles$;

-------------------------------------------------------------------------------
-- 1. allot.txns -> allot.events.
--
-- In 0.1 a redemption writes its allot.txns row (primary key txn) and its
-- 'grant' event in the same transaction, and only for a txn whose row it
-- inserted; a reversal locks the txns row, refuses when reversed_at is set,
-- and writes reversed_at/reverse_reason and the 'reverse' event together.
-- So through the API the log holds exactly one 'grant' event per txns row
-- and one 'reverse' event per reversed row, with the same keys (the row's
-- are sorted), amount, path, time, counted windows and reason. Only a
-- manual DELETE/INSERT by the owner (the only role allowed to) can make
-- them disagree:
--
--   a. two 'grant' (or two 'reverse') events for one txn: possible only if
--      a txns row was deleted and the txn redeemed again (or events were
--      inserted by hand). The new unique indexes would fail on them, and no
--      choice is safe here: each of those grants was counted, and the audit
--      log is append-only, so the script will not delete or relabel any of
--      them. It stops with the txns listed; the owner decides (e.g. reverse
--      the duplicate's units and move the extra event aside) and reruns.
--   b. a 'grant' event whose txn has no txns row (the row was deleted): 0.1
--      would grant that txn afresh, 0.2 would replay it. Not the same
--      answer: stop.
--   c. a 'reverse' event whose txn has no reversed txns row: stop.
--   d. a txns row without its 'grant' event, or a reversed row without its
--      'reverse' event (events deleted, e.g. a pruned log): 0.2 reads a
--      txn's state from the log only, so the missing events are restored
--      from the txns row (at = granted_at / reversed_at; keys in the row's
--      sorted order; detail.counted from the row; detail.restored says where
--      they came from). The counters already hold these units, so this also
--      puts allot.verify() back in agreement. Lost for good: the original
--      key order and a grant's detail.shadow_denied (only the event had it).
--   e. finally every txns row is compared with what the 0.2 view will show
--      for it (keys, amount, path, granted_at, counted, reversed_at,
--      reverse_reason); any difference stops the upgrade.
-------------------------------------------------------------------------------
DO $txns$
DECLARE
  bad text;
  n bigint;
BEGIN
  -- a. duplicates
  SELECT pg_catalog.string_agg(s.txn::text || ' (' || s.kind || ' x' || s.n || ')', ', ' ORDER BY s.txn)
    INTO bad
    FROM (SELECT e.txn, e.kind, pg_catalog.count(*) AS n
            FROM allot.events e
           WHERE e.kind IN ('grant', 'reverse')
           GROUP BY e.txn, e.kind
          HAVING pg_catalog.count(*) > 1
           ORDER BY e.txn
           LIMIT 20) s;
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'pg_allot 0.1 -> 0.2: allot.events holds more than one grant or reverse event for a txn'
      USING ERRCODE = 'unique_violation',
            DETAIL = 'txns (first 20): ' || bad,
            HINT = 'In 0.2 a txn is granted at most once and reversed at most once (unique indexes on allot.events). '
                   'These events can only come from manual changes to allot.txns or allot.events; resolve them by hand, then run the update again. Nothing was changed.';
  END IF;

  -- b. grant events without a txns row
  SELECT pg_catalog.string_agg(s.txn::text, ', ' ORDER BY s.txn) INTO bad
    FROM (SELECT e.txn FROM allot.events e
           WHERE e.kind = 'grant'
             AND NOT EXISTS (SELECT 1 FROM allot.txns t WHERE t.txn = e.txn)
           ORDER BY e.txn LIMIT 20) s;
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'pg_allot 0.1 -> 0.2: allot.events has grant events for txns that allot.txns does not hold'
      USING ERRCODE = 'data_exception',
            DETAIL = 'txns (first 20): ' || bad,
            HINT = '0.1 treats these txns as never granted, 0.2 would replay them. Rows of allot.txns were deleted by hand; restore them (or decide otherwise), then run the update again. Nothing was changed.';
  END IF;

  -- c. reverse events without a reversed txns row
  SELECT pg_catalog.string_agg(s.txn::text, ', ' ORDER BY s.txn) INTO bad
    FROM (SELECT e.txn FROM allot.events e
           WHERE e.kind = 'reverse'
             AND NOT EXISTS (SELECT 1 FROM allot.txns t
                              WHERE t.txn = e.txn AND t.reversed_at IS NOT NULL)
           ORDER BY e.txn LIMIT 20) s;
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'pg_allot 0.1 -> 0.2: allot.events has reverse events for txns that allot.txns does not show as reversed'
      USING ERRCODE = 'data_exception',
            DETAIL = 'txns (first 20): ' || bad,
            HINT = 'Resolve these by hand, then run the update again. Nothing was changed.';
  END IF;

  -- d. restore events that only allot.txns remembers
  SELECT pg_catalog.string_agg(s.txn::text, ', ' ORDER BY s.txn) INTO bad
    FROM (SELECT t.txn FROM allot.txns t
           WHERE (t.amount <= 0 OR pg_catalog.cardinality(t.keys) = 0
                  OR t.path NOT IN ('fast', 'slow')
                  OR pg_catalog.jsonb_typeof(t.counted) IS DISTINCT FROM 'array')
             AND NOT EXISTS (SELECT 1 FROM allot.events e WHERE e.txn = t.txn AND e.kind = 'grant')
           ORDER BY t.txn LIMIT 20) s;
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'pg_allot 0.1 -> 0.2: allot.txns rows without a grant event that cannot be grants'
      USING ERRCODE = 'data_exception',
            DETAIL = 'txns (first 20): ' || bad,
            HINT = 'Resolve these by hand, then run the update again. Nothing was changed.';
  END IF;

  INSERT INTO allot.events (txn, at, kind, keys, amount, path, detail)
  SELECT t.txn, t.granted_at, 'grant', t.keys, t.amount, t.path,
         pg_catalog.jsonb_build_object('counted', t.counted,
                                       'restored', 'from allot.txns by the 0.1 -> 0.2 update')
    FROM allot.txns t
   WHERE NOT EXISTS (SELECT 1 FROM allot.events e WHERE e.txn = t.txn AND e.kind = 'grant')
   ORDER BY t.granted_at, t.txn;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 THEN
    RAISE WARNING 'pg_allot 0.1 -> 0.2: restored % grant event(s) missing from allot.events from allot.txns', n
      USING DETAIL = 'They carry detail.restored; their original key order and detail.shadow_denied are lost.';
  END IF;

  INSERT INTO allot.events (txn, at, kind, keys, amount, path, detail)
  SELECT t.txn, t.reversed_at, 'reverse', t.keys, t.amount, t.path,
         pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
           'counted', t.counted, 'reason', t.reverse_reason,
           'restored', 'from allot.txns by the 0.1 -> 0.2 update'))
    FROM allot.txns t
   WHERE t.reversed_at IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM allot.events e WHERE e.txn = t.txn AND e.kind = 'reverse')
   ORDER BY t.reversed_at, t.txn;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 THEN
    RAISE WARNING 'pg_allot 0.1 -> 0.2: restored % reverse event(s) missing from allot.events from allot.txns', n
      USING DETAIL = 'They carry detail.restored.';
  END IF;

  -- e. every txns row must read back the same through the 0.2 view
  -- (the view's query, inlined: the view does not exist yet).
  SELECT pg_catalog.string_agg(s.txn::text, ', ' ORDER BY s.txn) INTO bad
    FROM (SELECT t.txn
            FROM allot.txns t
            LEFT JOIN allot.events g ON g.txn = t.txn AND g.kind = 'grant'
            LEFT JOIN allot.events r ON r.txn = t.txn AND r.kind = 'reverse'
           WHERE g.txn IS NULL
              OR ARRAY(SELECT k FROM pg_catalog.unnest(g.keys) AS k ORDER BY k COLLATE "C")
                 IS DISTINCT FROM t.keys
              OR g.amount IS DISTINCT FROM t.amount
              OR g.path IS DISTINCT FROM t.path
              OR g.at IS DISTINCT FROM t.granted_at
              OR (g.detail -> 'counted') IS DISTINCT FROM t.counted
              OR r.at IS DISTINCT FROM t.reversed_at
              OR (r.detail ->> 'reason') IS DISTINCT FROM t.reverse_reason
           ORDER BY t.txn LIMIT 20) s;
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'pg_allot 0.1 -> 0.2: allot.txns and allot.events disagree about some txns'
      USING ERRCODE = 'data_exception',
            DETAIL = 'txns (first 20): ' || bad,
            HINT = 'Their keys, amount, path, times, counted windows or reversal differ between the txns row and its events. Resolve them by hand, then run the update again. Nothing was changed.';
  END IF;
END
$txns$;

-- Idempotency now lives in the log.
CREATE UNIQUE INDEX events_grant_txn ON allot.events (txn) WHERE kind = 'grant';
CREATE UNIQUE INDEX events_reverse_txn ON allot.events (txn) WHERE kind = 'reverse';
COMMENT ON TABLE allot.events IS
  'Append-only audit log: every grant, denial (when allot.log_denials is on) and reversal. detail.counted lists [key, limit_id, window_start] of every window a grant or reversal changed, with a fourth element "f" where the fast path counted it (the rollup folds those into allot.counters).';

-------------------------------------------------------------------------------
-- 2. Drop what depends on the tables being replaced (recreated below as in
--    a fresh 0.2 install, with the same privileges and comments).
-------------------------------------------------------------------------------
DROP VIEW allot.usage;        -- reads the allot.entities table
DROP VIEW allot.violations;   -- changed
DROP VIEW allot.stats;        -- reads allot.rollup_state, which is rebuilt

DROP TABLE allot.txns;

CREATE VIEW allot.txns AS
SELECT g.txn, ARRAY(SELECT k FROM unnest(g.keys) AS k ORDER BY k COLLATE "C") AS keys, g.amount, g.path, g.at AS granted_at, g.detail->'counted' AS counted,
       r.at AS reversed_at, r.detail->>'reason' AS reverse_reason
  FROM allot.events g
  LEFT JOIN allot.events r ON r.txn = g.txn AND r.kind = 'reverse'
 WHERE g.kind = 'grant';
COMMENT ON VIEW allot.txns IS
  'Granted transactions (one row per txn): keys, amount, path, when, the windows counted, and the reversal if any.';

-------------------------------------------------------------------------------
-- 3. allot.entities (table) -> allot.entity_state + allot.key_activity.
--
-- Rows keep their path: in 0.1 every key was 'slow' (there was no fast
-- path; 0.1 never changed it), and 0.2 reads a durable 'slow' as "this key
-- is on the slow path". With the preload such a key is redeemed on the
-- exact row-locked path until the rollup moves it to the fast path (after
-- allot.path_hold_seconds, when its headroom allows), as for any slow key;
-- without the preload every key is slow anyway. last_seen and
-- path_changed_at are kept; rate and last_seen also go to key_activity,
-- where the 0.2 rollup keeps them, so allot.entities shows what the 0.1
-- table held.
-------------------------------------------------------------------------------
CREATE TABLE allot.entity_state (
  key             text COLLATE "C" PRIMARY KEY,
  path            text NOT NULL DEFAULT 'fast' CHECK (path IN ('fast', 'slow')),
  last_seen       timestamptz,
  path_changed_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE allot.entity_state IS
  'Durable per-key state: path flag (fast or slow; slow-path redemptions lock the key''s row here) and when the row was created (last_seen). See the view allot.entities.';

CREATE TABLE allot.key_activity (
  key       text COLLATE "C" PRIMARY KEY,
  rate      double precision NOT NULL DEFAULT 0,
  last_seen timestamptz
) WITH (fillfactor = 70);  -- room for HOT updates
COMMENT ON TABLE allot.key_activity IS
  'Recent rate (units/s, decaying over ~10 s) and last grant of keys with a row in allot.entity_state, as of the last rollup. See the view allot.entities.';

INSERT INTO allot.entity_state (key, path, last_seen, path_changed_at)
SELECT en.key, en.path, en.last_seen, en.path_changed_at FROM allot.entities en ORDER BY en.key;
INSERT INTO allot.key_activity (key, rate, last_seen)
SELECT en.key, en.rate, en.last_seen FROM allot.entities en ORDER BY en.key;

DROP TABLE allot.entities;

-------------------------------------------------------------------------------
-- 4. allot.rollup_state: rebuilt with unfolded_possible in its place. The
--    watermark and counts are kept; unfolded_possible starts false (0.1
--    had no fast path: every event is in the counters already, and the
--    0.2 rollup folds only fast-path ("f") windows into them).
-------------------------------------------------------------------------------
ALTER TABLE allot.rollup_state RENAME TO rollup_state_0_1;
ALTER TABLE allot.rollup_state_0_1 RENAME CONSTRAINT rollup_state_pkey TO rollup_state_0_1_pkey;
ALTER TABLE allot.rollup_state_0_1 RENAME CONSTRAINT rollup_state_singleton_check TO rollup_state_0_1_singleton_check;

CREATE TABLE allot.rollup_state (
  singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  last_seq   bigint NOT NULL DEFAULT 0,   -- events up to here are folded
  -- true while the fast path may have logged grants that are not folded
  -- yet (set by the preloaded server; a server without the preload folds
  -- them before its first decision).
  unfolded_possible boolean NOT NULL DEFAULT false,
  last_at    timestamptz NOT NULL DEFAULT now(),
  rollups    bigint NOT NULL DEFAULT 0
);
INSERT INTO allot.rollup_state (singleton, last_seq, unfolded_possible, last_at, rollups)
SELECT o.singleton, o.last_seq, false, o.last_at, o.rollups FROM allot.rollup_state_0_1 o;
-- The install script inserts the row; make sure there is one.
INSERT INTO allot.rollup_state
SELECT WHERE NOT EXISTS (SELECT 1 FROM allot.rollup_state);
COMMENT ON TABLE allot.rollup_state IS
  'Rollup bookkeeping (one row): the last event seq folded into counters and rates, when, and how many rollups ran.';

DROP TABLE allot.rollup_state_0_1;

-------------------------------------------------------------------------------
-- 5. Functions
-------------------------------------------------------------------------------
-- Backends cache the limits (when preloaded); any change to this table
-- makes them read it again once the changing transaction commits.
CREATE FUNCTION allot._limits_changed() RETURNS trigger
  LANGUAGE c AS 'MODULE_PATHNAME', 'allot_limits_changed';
COMMENT ON FUNCTION allot._limits_changed() IS
  'Internal: statement trigger on allot.limits that invalidates the limits cached by backends.';
CREATE TRIGGER limits_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON allot.limits
  FOR EACH STATEMENT EXECUTE FUNCTION allot._limits_changed();
-- Limits changed while the schema was 0.1 fired no trigger, so a backend of
-- the 0.2 library that cached them before such a change would keep the old
-- rows: fire it once (an UPDATE of no row still fires a statement trigger),
-- which drops every backend's cache when this update commits.
UPDATE allot.limits SET max = max WHERE false;

-- The 0.1 plpgsql rollup called this; the C rollup counts for itself.
DROP FUNCTION allot._note_rollup();

-- Same signature: replaced in place (privileges kept).
CREATE OR REPLACE FUNCTION allot.rollup()
  RETURNS TABLE (events bigint, keys bigint, promoted integer, demoted integer)
  LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS 'MODULE_PATHNAME', 'allot_rollup';
COMMENT ON FUNCTION allot.rollup() IS
  'Folds committed fast-path grants and reversals into allot.counters (never skipping one that commits late), updates each key''s recent rate, and moves keys between the fast and the slow path (promoted = to slow, demoted = back to fast). The background worker calls it every allot.rollup_interval; calling it by hand is always safe.';

CREATE FUNCTION allot.set_path(key text, path text)
  RETURNS text
  LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS 'MODULE_PATHNAME', 'allot_set_path';
COMMENT ON FUNCTION allot.set_path(text, text) IS
  'Moves a key to the fast or the slow path now (takes effect at commit; the rollup may move it again later, after allot.path_hold_seconds). Returns the path it was on. The fast path needs shared_preload_libraries.';

CREATE FUNCTION allot._shared_keys(OUT key text, OUT state text, OUT rate double precision,
                                   OUT last_used timestamptz, OUT state_since timestamptz,
                                   OUT holders bigint, OUT meters jsonb)
  RETURNS SETOF record
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'allot_shared_keys';
COMMENT ON FUNCTION allot._shared_keys() IS
  'Internal: the keys of this database in shared memory (fast path): state, rate, last use, transactions holding units, and meters [[limit_id, window_start, used], ...]. Empty without the preload.';

CREATE FUNCTION allot._preloaded() RETURNS boolean
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'allot_preloaded';
COMMENT ON FUNCTION allot._preloaded() IS
  'Internal: true when pg_allot is in shared_preload_libraries (the fast path is available).';

-------------------------------------------------------------------------------
-- 6. Audit views (as in pg_allot--0.2.sql)
-------------------------------------------------------------------------------
CREATE VIEW allot.entities AS
SELECT coalesce(s.key, t.key) AS key,
       CASE WHEN s.state IN ('fast', 'closing', 'loading') THEN 'fast'
            WHEN s.state = 'slow' THEN 'slow'
            WHEN allot._preloaded() THEN t.path
            ELSE 'slow' END AS path,
       coalesce(s.rate, a.rate, 0) AS rate,
       greatest(s.last_used, t.last_seen, a.last_seen) AS last_seen,
       coalesce(t.path_changed_at, s.state_since) AS path_changed_at
  FROM allot.entity_state t
  LEFT JOIN allot.key_activity a ON a.key = t.key
  FULL JOIN allot._shared_keys() s ON s.key = t.key;
COMMENT ON VIEW allot.entities IS
  'Keys with limits: path (fast or slow), recent rate (units/s), when last granted, and when the path last changed.';

CREATE VIEW allot.unfolded AS
SELECT c->>0 AS key, (c->>1)::bigint AS limit_id, (c->>2)::timestamptz AS window_start,
       sum(CASE e.kind WHEN 'grant' THEN e.amount ELSE -e.amount END)::bigint AS used
  FROM allot.events e, jsonb_array_elements(e.detail->'counted') AS c
 WHERE e.seq > (SELECT r.last_seq FROM allot.rollup_state r)
   AND e.kind IN ('grant', 'reverse') AND c->>3 = 'f'
 GROUP BY 1, 2, 3;
COMMENT ON VIEW allot.unfolded IS
  'Units counted on the fast path and not yet folded into allot.counters by the rollup, per (key, limit, window).';

CREATE VIEW allot.usage AS
WITH counted AS (
  SELECT c.key, c.limit_id, c.window_start, c.used FROM allot.counters c
  UNION ALL
  SELECT u.key, u.limit_id, u.window_start, u.used FROM allot.unfolded u
)
SELECT c.key,
       l.id AS limit_id,
       sum(c.used)::bigint AS used,
       l.max,
       greatest(l.max - sum(c.used), 0)::bigint AS remaining,
       w.window_start,
       coalesce(en.path, 'slow') AS path,
       coalesce(en.rate, 0) AS rate
  FROM allot.limits l
 CROSS JOIN LATERAL allot._current_window(l.per, l.sliding, l.valid, allot._now()) w
  JOIN counted c
    ON c.limit_id = l.id AND c.window_start >= w.rows_from AND c.window_start < w.rows_to
  LEFT JOIN allot.entities en ON en.key = c.key
 WHERE l.valid @> allot._now()
 GROUP BY c.key, l.id, l.max, w.window_start, en.path, en.rate;
COMMENT ON VIEW allot.usage IS
  'Committed usage in the current window of every (key, limit) with usage (counters plus fast-path grants not folded yet): used, max, remaining, window_start (for sliding limits: now - per), path and recent rate (units/s).';

CREATE VIEW allot.violations AS
SELECT c.key, l.id AS limit_id, l.mode, c.window_start, c.used, l.max, c.used - l.max AS excess
  FROM (SELECT k.key, k.limit_id, k.window_start, sum(k.used)::bigint AS used
          FROM (SELECT key, limit_id, window_start, used FROM allot.counters
                UNION ALL
                SELECT key, limit_id, window_start, used FROM allot.unfolded) k
         GROUP BY 1, 2, 3) c
  JOIN allot.limits l ON l.id = c.limit_id
 WHERE NOT l.sliding AND c.used > l.max
UNION ALL
SELECT s.key, s.limit_id, s.mode, s.window_start, s.used, s.max, s.used - s.max
  FROM (SELECT c.key, l.id AS limit_id, l.mode, c.window_start, l.max,
               (SELECT sum(c2.used) FROM allot.counters c2
                 WHERE c2.key = c.key AND c2.limit_id = c.limit_id
                   AND c2.window_start >= c.window_start - l.per
                   AND c2.window_start <= c.window_start)::bigint AS used
          FROM allot.counters c JOIN allot.limits l ON l.id = c.limit_id
         WHERE l.sliding) s
 WHERE s.used > s.max;
COMMENT ON VIEW allot.violations IS
  'Windows whose usage exceeds max. For enforced limits this is empty on one server (unless max was lowered below usage already counted); for shadow limits it shows where they would have denied.';

-- Same signature: replaced in place (privileges kept).
CREATE OR REPLACE FUNCTION allot.verify()
  RETURNS TABLE (key text, limit_id bigint, window_start timestamptz, counted bigint, from_events bigint)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $verify$
  WITH from_log AS (
    SELECT c->>0 AS key, (c->>1)::bigint AS limit_id, (c->>2)::timestamptz AS window_start,
           sum(CASE e.kind WHEN 'grant' THEN e.amount ELSE -e.amount END)::bigint AS units
      FROM allot.events e, jsonb_array_elements(e.detail->'counted') AS c
     WHERE e.kind IN ('grant', 'reverse')
     GROUP BY 1, 2, 3
  )
  SELECT coalesce(k.key, f.key), coalesce(k.limit_id, f.limit_id),
         coalesce(k.window_start, f.window_start), k.used, f.units
    FROM (SELECT key, limit_id, window_start, sum(used)::bigint AS used
            FROM (SELECT key, limit_id, window_start, used FROM allot.counters
                  UNION ALL
                  SELECT key, limit_id, window_start, used FROM allot.unfolded) both_parts
           GROUP BY 1, 2, 3) k
    FULL JOIN from_log f
      ON f.key = k.key AND f.limit_id = k.limit_id AND f.window_start = k.window_start
   WHERE coalesce(k.used, 0) <> coalesce(f.units, 0)
     -- counters of a dropped limit are gone on purpose
     AND EXISTS (SELECT 1 FROM allot.limits l WHERE l.id = coalesce(k.limit_id, f.limit_id))
   ORDER BY 1, 2, 3
$verify$;
COMMENT ON FUNCTION allot.verify() IS
  'Every (key, limit, window) where the counters (plus fast-path grants not folded yet) disagree with what the event log says was granted minus reversed. Empty means sound.';

-- Unchanged, recreated because it reads the rebuilt allot.rollup_state.
CREATE VIEW allot.stats AS
SELECT s.grants_fast, s.grants_slow, s.denials, s.replays, s.reversals,
       s.promotions, s.demotions, s.rollups,
       (SELECT count(*) FROM allot.events e
         WHERE e.seq > (SELECT r.last_seq FROM allot.rollup_state r)) AS events_not_rolled_up,
       s.shared_keys_used, s.max_keys, s.since
  FROM allot._stats() s;
COMMENT ON VIEW allot.stats IS
  'Counters since server start (needs shared_preload_libraries = ''pg_allot''; NULL without it): decisions by path, denials, replays, reversals, path changes, rollups; events not yet rolled up; shared-memory keys used / allot.max_keys.';

-------------------------------------------------------------------------------
-- 7. Privileges, as at the end of pg_allot--0.2.sql: PUBLIC gets nothing
--    (new tables, views and functions included); the roles get what a
--    fresh 0.2 install gives them. Re-granting what 0.1 granted already
--    changes nothing.
-------------------------------------------------------------------------------
REVOKE ALL ON ALL TABLES IN SCHEMA allot FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA allot FROM PUBLIC;

GRANT USAGE ON SCHEMA allot TO allot_client, allot_admin, allot_auditor;
GRANT USAGE ON TYPE allot.decision, allot.item_decision TO allot_client, allot_admin, allot_auditor;

GRANT EXECUTE ON FUNCTION allot.redeem(uuid, text[], bigint),
                          allot.redeem_many(jsonb),
                          allot.can_redeem(text[], bigint),
                          allot.reverse(uuid, text)
  TO allot_client, allot_admin;

GRANT EXECUTE ON FUNCTION allot.set_limit(text, bigint, interval, boolean, tstzrange, text),
                          allot.drop_limit(text, interval, boolean),
                          allot.rollup(),
                          allot.set_path(text, text)
  TO allot_admin;

GRANT SELECT ON allot.limits, allot.entities, allot.entity_state, allot.key_activity,
                allot.events, allot.usage,
                allot.violations, allot.stats, allot.txns, allot.unfolded
  TO allot_auditor, allot_admin;
GRANT EXECUTE ON FUNCTION allot.verify(), allot._stats(), allot._now(), allot._shared_keys(),
                          allot._preloaded(),
                          allot._current_window(interval, boolean, tstzrange, timestamptz)
  TO allot_auditor, allot_admin;
