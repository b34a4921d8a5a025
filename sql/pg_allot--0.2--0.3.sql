-- pg_allot 0.2 -> 0.3: retention. Old events can move from allot.events to
-- allot.events_archive (partitioned by day) and old days can be dropped;
-- allot.txns and allot.verify() read the whole log (allot.event_log).
-- Nothing existing is rewritten: allot.events only gains a BRIN index.
-- Least privilege: allot._now() and allot._current_window() (the rollup
-- worker calls them) get a fixed search_path, and PUBLIC loses USAGE on
-- the types allot.decision and allot.item_decision.

\echo Use "ALTER EXTENSION pg_allot UPDATE TO '0.3'" to load this file. \quit

-------------------------------------------------------------------------------
-- Retention: an archive of old events, partitioned by day
-------------------------------------------------------------------------------
-- allot.events keeps the recent log. Its unique indexes on txn are what make
-- a replay a replay, and a partitioned table cannot hold a unique index
-- without its partition key, so the recent log stays one table.
-- allot.archive_events() moves events that are folded and older than the
-- replay window into allot.events_archive, partitioned by day (UTC), and
-- allot.drop_archived_events() drops its old partitions, keeping their
-- per-window sums in allot.archived_usage so allot.verify() stays exact.
CREATE TABLE allot.events_archive (
  seq    bigint NOT NULL,
  txn    uuid NOT NULL,
  at     timestamptz NOT NULL,
  kind   text NOT NULL,
  keys   text[] COLLATE "C" NOT NULL,
  amount bigint NOT NULL,
  path   text NOT NULL,
  detail jsonb NOT NULL
) PARTITION BY RANGE (at);
-- allot.reverse of a grant older than the replay window finds it here.
CREATE INDEX events_archive_txn ON allot.events_archive (txn);
COMMENT ON TABLE allot.events_archive IS
  'Events moved out of allot.events by allot.archive_events() (folded, older than the replay window), partitioned by day (UTC): one partition allot.events_archive_YYYYMMDD per day. Drop old days with allot.drop_archived_events().';

-- The archiver finds old rows without reading the whole recent log.
CREATE INDEX events_at ON allot.events USING brin (at) WITH (autosummarize = on);

CREATE TABLE allot.archived_usage (
  key          text COLLATE "C" NOT NULL,
  limit_id     bigint NOT NULL,
  window_start timestamptz NOT NULL,
  units        bigint NOT NULL,
  PRIMARY KEY (key, limit_id, window_start)
);
COMMENT ON TABLE allot.archived_usage IS
  'Granted minus reversed units per (key, limit, window) of the events in archive partitions that allot.drop_archived_events() dropped: the part of the log allot.verify() can no longer read.';

CREATE VIEW allot.event_log AS
SELECT e.seq, e.txn, e.at, e.kind, e.keys, e.amount, e.path, e.detail FROM allot.events e
UNION ALL
SELECT a.seq, a.txn, a.at, a.kind, a.keys, a.amount, a.path, a.detail FROM allot.events_archive a;
COMMENT ON VIEW allot.event_log IS
  'The whole event log: the recent allot.events and the archived allot.events_archive.';

-- The archive partition for the UTC day starting at "day"; created when
-- missing. Called by archive_events only, which runs as the extension owner.
-- Readers go through allot.events_archive, so a partition needs no grant of
-- its own: it keeps none, not even one the owner's default privileges
-- (ALTER DEFAULT PRIVILEGES) would give, since it holds audit events.
CREATE FUNCTION allot._archive_partition(day timestamptz) RETURNS void
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $partition$
DECLARE
  part_name text := 'events_archive_' || pg_catalog.to_char(day AT TIME ZONE 'UTC', 'YYYYMMDD');
  part      regclass;
  grantee   text;
BEGIN
  IF pg_catalog.to_regclass('allot.' || pg_catalog.quote_ident(part_name)) IS NULL THEN
    EXECUTE pg_catalog.format(
      'CREATE TABLE allot.%I PARTITION OF allot.events_archive FOR VALUES FROM (%L) TO (%L)',
      part_name, (day AT TIME ZONE 'UTC')::text || '+00',
      ((day + interval '24 hours') AT TIME ZONE 'UTC')::text || '+00');
    part := pg_catalog.to_regclass('allot.' || pg_catalog.quote_ident(part_name));
    FOR grantee IN
      SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                           ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END
        FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
       WHERE c.oid = part AND a.grantee <> c.relowner
    LOOP
      EXECUTE pg_catalog.format('REVOKE ALL ON TABLE %s FROM %s', part, grantee);
    END LOOP;
  END IF;
END
$partition$;
COMMENT ON FUNCTION allot._archive_partition(timestamptz) IS
  'Internal: creates the archive partition of the UTC day starting at "day" unless it exists (with no privileges but its owner''s).';

-- The time "age" before the decision time, for the retention functions:
-- refuses an age that reaches beyond the timestamps PostgreSQL can hold
-- (the subtraction would fail with a bare "timestamp out of range") or
-- that ends after now (months and days of opposite signs, say
-- '1 mon -30 days' on March 1st), naming the argument.
CREATE FUNCTION allot._retention_cutoff(age interval, argument text) RETURNS timestamptz
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $cutoff$
DECLARE
  now_   timestamptz := allot._now();
  cutoff timestamptz;
BEGIN
  BEGIN
    cutoff := now_ - age;
  EXCEPTION WHEN datetime_field_overflow THEN
    RAISE EXCEPTION 'pg_allot: % is too long, got %: now - % is before the earliest timestamp PostgreSQL can hold (4713 BC)',
                    argument, age, argument
      USING ERRCODE = '22023';
  END;
  IF cutoff > now_ THEN
    RAISE EXCEPTION 'pg_allot: % must be an interval of zero or more, got %, which ends after now (%)',
                    argument, age, now_
      USING ERRCODE = '22023';
  END IF;
  RETURN cutoff;
END
$cutoff$;
COMMENT ON FUNCTION allot._retention_cutoff(interval, text) IS
  'Internal: allot._now() - age for archive_events and drop_archived_events; a clear 22023 error naming the argument when that is out of the timestamp range or after now.';

CREATE FUNCTION allot.archive_events(replay_window interval DEFAULT '7 days')
  RETURNS bigint
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $archive$
DECLARE
  cutoff timestamptz;
  folded bigint;
  day    timestamptz;
  moved  bigint;
BEGIN
  IF replay_window IS NULL OR replay_window < interval '0' THEN
    RAISE EXCEPTION 'pg_allot: replay_window must be an interval of zero or more, got %',
                    coalesce(replay_window::text, 'NULL')
      USING ERRCODE = '22023',
            HINT = 'Grants within the replay window stay in allot.events, where a replay of their txn is recognised.';
  END IF;
  cutoff := allot._retention_cutoff(replay_window, 'replay_window');
  -- One archiver at a time (two would create the same partitions);
  -- redemptions and readers are not blocked by this lock.
  LOCK TABLE allot.events_archive IN SHARE UPDATE EXCLUSIVE MODE;
  -- Only folded events: every committed event up to last_seq is in the
  -- counters, so moving (and later dropping) it changes no usage.
  SELECT r.last_seq INTO folded FROM allot.rollup_state r;
  FOR day IN SELECT DISTINCT pg_catalog.date_trunc('day', e.at, 'UTC') FROM allot.events e
              WHERE e.at < cutoff AND e.seq <= folded
  LOOP
    PERFORM allot._archive_partition(day);
  END LOOP;
  WITH gone AS (
    DELETE FROM allot.events e WHERE e.at < cutoff AND e.seq <= folded
    RETURNING e.seq, e.txn, e.at, e.kind, e.keys, e.amount, e.path, e.detail
  )
  INSERT INTO allot.events_archive (seq, txn, at, kind, keys, amount, path, detail)
  SELECT g.seq, g.txn, g.at, g.kind, g.keys, g.amount, g.path, g.detail FROM gone g;
  GET DIAGNOSTICS moved = ROW_COUNT;
  RETURN moved;
END
$archive$;
COMMENT ON FUNCTION allot.archive_events(interval) IS
  'Moves events older than replay_window (default 7 days) that the rollup has folded from allot.events into allot.events_archive (daily partitions, created as needed). Returns how many moved. A txn whose grant was archived is no longer recognised as a replay (a new redemption with it is decided afresh); allot.reverse still finds it. Run it regularly (e.g. hourly with pg_cron).';

CREATE FUNCTION allot.drop_archived_events(older_than interval)
  RETURNS SETOF text
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $drop$
DECLARE
  cutoff timestamptz;
  part   regclass;
  part_end timestamptz;
BEGIN
  IF older_than IS NULL OR older_than < interval '0' THEN
    RAISE EXCEPTION 'pg_allot: older_than must be an interval of zero or more, got %',
                    coalesce(older_than::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  cutoff := allot._retention_cutoff(older_than, 'older_than');
  LOCK TABLE allot.events_archive IN SHARE UPDATE EXCLUSIVE MODE;
  FOR part, part_end IN
    SELECT c.oid::regclass,
           (pg_catalog.regexp_match(pg_catalog.pg_get_expr(c.relpartbound, c.oid),
                                    'TO \(''([^'']*)''\)'))[1]::timestamptz
      FROM pg_catalog.pg_inherits i
      JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'allot.events_archive'::regclass
     ORDER BY 2
  LOOP
    CONTINUE WHEN part_end > cutoff;
    -- Keep what the dropped events counted, for allot.verify().
    EXECUTE pg_catalog.format($sum$
      INSERT INTO allot.archived_usage AS a (key, limit_id, window_start, units)
      SELECT c->>0, (c->>1)::bigint, (c->>2)::timestamptz,
             sum(CASE e.kind WHEN 'grant' THEN e.amount ELSE -e.amount END)::bigint
        FROM %s e, pg_catalog.jsonb_array_elements(e.detail->'counted') AS c
       WHERE e.kind IN ('grant', 'reverse')
       GROUP BY 1, 2, 3
      ON CONFLICT (key, limit_id, window_start) DO UPDATE SET units = a.units + EXCLUDED.units
    $sum$, part);
    RETURN NEXT part::text;  -- the name, while the table still has one
    EXECUTE pg_catalog.format('DROP TABLE %s', part);
  END LOOP;
END
$drop$;
COMMENT ON FUNCTION allot.drop_archived_events(interval) IS
  'Drops the archive partitions (days) that end at least older_than ago and returns their names; their per-window sums go to allot.archived_usage, so allot.verify() stays exact. Grants in dropped partitions can no longer be reversed.';

-------------------------------------------------------------------------------
-- The audit views read the whole log
-------------------------------------------------------------------------------
CREATE OR REPLACE VIEW allot.txns AS
SELECT g.txn, ARRAY(SELECT k FROM unnest(g.keys) AS k ORDER BY k COLLATE "C") AS keys, g.amount, g.path, g.at AS granted_at, g.detail->'counted' AS counted,
       r.at AS reversed_at, r.detail->>'reason' AS reverse_reason
  FROM allot.event_log g
  LEFT JOIN allot.event_log r ON r.txn = g.txn AND r.kind = 'reverse'
 WHERE g.kind = 'grant';

CREATE OR REPLACE FUNCTION allot.verify()
  RETURNS TABLE (key text, limit_id bigint, window_start timestamptz, counted bigint, from_events bigint)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $verify$
  WITH from_log AS (
    SELECT x.key, x.limit_id, x.window_start, sum(x.units)::bigint AS units
      FROM (SELECT c->>0 AS key, (c->>1)::bigint AS limit_id, (c->>2)::timestamptz AS window_start,
                   CASE e.kind WHEN 'grant' THEN e.amount ELSE -e.amount END AS units
              FROM allot.event_log e, jsonb_array_elements(e.detail->'counted') AS c
             WHERE e.kind IN ('grant', 'reverse')
            UNION ALL
            -- what dropped archive partitions counted
            SELECT a.key, a.limit_id, a.window_start, a.units FROM allot.archived_usage a) x
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

-------------------------------------------------------------------------------
-- A fixed search_path for every function the rollup worker calls
-------------------------------------------------------------------------------
-- (pg_allot--0.3.sql says why.)
CREATE OR REPLACE FUNCTION allot._now() RETURNS timestamptz
  LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
  AS $$ SELECT coalesce(nullif(pg_catalog.current_setting('allot.clock_override', true), '')::pg_catalog.timestamptz,
                        pg_catalog.now()) $$;
ALTER FUNCTION allot._current_window(interval, boolean, tstzrange, timestamptz)
  SET search_path = pg_catalog, pg_temp;

-------------------------------------------------------------------------------
-- Privileges
-------------------------------------------------------------------------------
REVOKE ALL ON allot.events_archive, allot.archived_usage, allot.event_log FROM PUBLIC;
REVOKE ALL ON FUNCTION allot._archive_partition(timestamptz), allot._retention_cutoff(interval, text),
                       allot.archive_events(interval), allot.drop_archived_events(interval) FROM PUBLIC;
-- The new objects keep nothing the installing role's default privileges
-- (ALTER DEFAULT PRIVILEGES ... GRANT) gave them (as in pg_allot--0.3.sql).
DO $acl$
DECLARE
  o record;
BEGIN
  FOR o IN
    SELECT DISTINCT x.target,
           CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END AS grantee
      FROM (SELECT 'TABLE ' || c.oid::pg_catalog.regclass::text, c.relowner, c.relacl
              FROM pg_catalog.pg_class c
             WHERE c.oid IN ('allot.events_archive'::pg_catalog.regclass, 'allot.archived_usage'::pg_catalog.regclass,
                             'allot.event_log'::pg_catalog.regclass)
            UNION ALL
            SELECT 'ROUTINE ' || p.oid::pg_catalog.regprocedure::text, p.proowner, p.proacl
              FROM pg_catalog.pg_proc p
             WHERE p.oid IN ('allot._archive_partition(timestamptz)'::pg_catalog.regprocedure,
                             'allot._retention_cutoff(interval, text)'::pg_catalog.regprocedure,
                             'allot.archive_events(interval)'::pg_catalog.regprocedure,
                             'allot.drop_archived_events(interval)'::pg_catalog.regprocedure)) AS x(target, owner, acl),
           pg_catalog.aclexplode(x.acl) a
     WHERE a.grantee <> x.owner
     ORDER BY 1, 2
  LOOP
    EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM %s', o.target, o.grantee);
  END LOOP;
END
$acl$;
REVOKE USAGE ON TYPE allot.decision, allot.item_decision FROM PUBLIC;
GRANT EXECUTE ON FUNCTION allot.archive_events(interval), allot.drop_archived_events(interval)
  TO allot_admin;
GRANT SELECT ON allot.events_archive, allot.archived_usage, allot.event_log
  TO allot_auditor, allot_admin;
