-- pg_allot 0.5: redemption quotas for vouchers and coupons.
-- Everything lives in schema "allot" (created by CREATE EXTENSION from the
-- control file). Every reference below is schema-qualified, and every
-- function that is SECURITY DEFINER, has an SQL or PL/pgSQL body, or is
-- called by the rollup worker fixes its search_path, so a hostile
-- search_path at install or call time cannot redirect anything.

\echo Use "CREATE EXTENSION pg_allot" to load this file. \quit

-------------------------------------------------------------------------------
-- The schema. CREATE EXTENSION creates "allot" (the control file names it)
-- owned by the installing role, but silently takes a schema of that name
-- that exists already. Take only an empty one of the installing role's own
-- in which no other role may create objects: another role's schema would
-- let its owner swap the extension's tables and functions for its own at
-- any later time, and objects already in it could stand in for ours.
-------------------------------------------------------------------------------
DO $schema$
DECLARE
  nsp       pg_catalog.oid;
  owner     pg_catalog.oid;
  creators  pg_catalog.text;
  contents  pg_catalog.text[];
BEGIN
  SELECT n.oid, n.nspowner INTO nsp, owner FROM pg_catalog.pg_namespace n WHERE n.nspname = 'allot';
  IF owner <> (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = CURRENT_USER) THEN
    RAISE EXCEPTION 'pg_allot: schema "allot" already exists and belongs to role "%", not to "%", who is installing pg_allot',
                    pg_catalog.pg_get_userbyid(owner), CURRENT_USER
      USING ERRCODE = 'duplicate_schema',
            DETAIL = 'The owner of the extension''s schema could replace its tables and functions with its own at any time.',
            HINT = 'Drop or rename that schema, or (after checking what is in it) make the installing role its owner, then run CREATE EXTENSION again.';
  END IF;
  SELECT pg_catalog.string_agg(DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                                              ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END, ', ')
    INTO creators
    FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
   WHERE n.oid = nsp AND a.privilege_type = 'CREATE' AND a.grantee <> n.nspowner;
  IF creators IS NOT NULL THEN
    RAISE EXCEPTION 'pg_allot: schema "allot" already exists and other roles may create objects in it: %', creators
      USING ERRCODE = 'duplicate_schema',
            DETAIL = 'Objects another role creates in the extension''s schema could stand in for the extension''s own.',
            HINT = pg_catalog.format('REVOKE CREATE ON SCHEMA allot FROM %s, or drop that schema, then run CREATE EXTENSION again.', creators);
  END IF;
  -- Every object in a schema depends on it; so does this extension.
  SELECT pg_catalog.array_agg(o.type || ' ' || o.identity ORDER BY d.classid, d.objid)
    INTO contents
    FROM pg_catalog.pg_depend d, pg_catalog.pg_identify_object(d.classid, d.objid, d.objsubid) o
   WHERE d.refclassid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND d.refobjid = nsp
     AND NOT (d.classid = 'pg_catalog.pg_extension'::pg_catalog.regclass
              AND d.objid = (SELECT e.oid FROM pg_catalog.pg_extension e WHERE e.extname = 'pg_allot'));
  IF contents IS NOT NULL THEN
    RAISE EXCEPTION 'pg_allot: schema "allot" already exists and is not empty: it holds %',
                    pg_catalog.array_to_string(contents[1:3], ', ')
                    || CASE WHEN pg_catalog.cardinality(contents) > 3
                            THEN pg_catalog.format(' and %s more', pg_catalog.cardinality(contents) - 3) ELSE '' END
      USING ERRCODE = 'duplicate_schema',
            HINT = 'pg_allot installs into an empty schema "allot" (or creates it): move or drop what is in it, then run CREATE EXTENSION again.';
  END IF;
END
$schema$;

-------------------------------------------------------------------------------
-- Roles (cluster-wide; created only when missing, never dropped with the
-- extension, because other databases may use them).
-------------------------------------------------------------------------------
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

REVOKE ALL ON SCHEMA allot FROM PUBLIC;

-------------------------------------------------------------------------------
-- Helpers implemented in C (pure window arithmetic from extension/core).
-------------------------------------------------------------------------------
CREATE FUNCTION allot._per_identity(per interval) RETURNS text
  LANGUAGE c IMMUTABLE PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'allot_per_identity';
COMMENT ON FUNCTION allot._per_identity(interval) IS
  'Internal: identity of a window length. Calendar months stay apart from days ("1 mon" <> "30 days"); days are 24 h ("1 day" = "24 hours"). NULL (a total) maps to "total".';

-- The rollup worker calls it: its search_path is fixed like that of every
-- function the worker runs, although C that runs no SQL needs none today.
CREATE FUNCTION allot._current_window(per interval, sliding boolean, valid tstzrange, at timestamptz,
                                      OUT window_start timestamptz, OUT rows_from timestamptz,
                                      OUT rows_to timestamptz)
  LANGUAGE c IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
  AS 'MODULE_PATHNAME', 'allot_current_window';
COMMENT ON FUNCTION allot._current_window(interval, boolean, tstzrange, timestamptz) IS
  'Internal: the window of a limit holding "at": its start, and the range [rows_from, rows_to) of counter window_start values that make up its usage.';

-- The time the audit views look at: the decision clock (allot.clock_override
-- when a test pins it, else the transaction's now()). Its body would
-- otherwise be bound (or inlined) with the caller's search_path: the cast
-- and the = of nullif() would run whatever a caller's schema put first,
-- with the rights of whoever reads allot.usage, the worker included.
CREATE FUNCTION allot._now() RETURNS timestamptz
  LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
  AS $$ SELECT coalesce(nullif(pg_catalog.current_setting('allot.clock_override', true), '')::pg_catalog.timestamptz,
                        pg_catalog.now()) $$;
COMMENT ON FUNCTION allot._now() IS
  'Internal: the time allot.usage shows windows at (allot.clock_override if set, else now()).';

-------------------------------------------------------------------------------
-- Tables
-------------------------------------------------------------------------------
CREATE TABLE allot.limits (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  scope      text COLLATE "C" NOT NULL,
  max        bigint NOT NULL CHECK (max > 0),
  per        interval,
  sliding    boolean NOT NULL DEFAULT false,
  valid      tstzrange NOT NULL DEFAULT '(,)',
  mode       text NOT NULL DEFAULT 'enforce' CHECK (mode IN ('enforce', 'shadow')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (NOT sliding OR per IS NOT NULL),
  CHECK (NOT isempty(valid))
);
-- One limit per (scope, per, sliding, valid); set_limit updates it in place.
CREATE UNIQUE INDEX limits_identity
  ON allot.limits (scope, allot._per_identity(per), sliding, valid);
COMMENT ON TABLE allot.limits IS
  'Limits: at most "max" units per key (or per key of a class) per window. Change them with allot.set_limit / allot.drop_limit.';

-- Backends cache the limits (when preloaded); any change to this table
-- makes them read it again once the changing transaction commits.
CREATE FUNCTION allot._limits_changed() RETURNS trigger
  LANGUAGE c AS 'MODULE_PATHNAME', 'allot_limits_changed';
COMMENT ON FUNCTION allot._limits_changed() IS
  'Internal: statement trigger on allot.limits that invalidates the limits cached by backends.';
CREATE TRIGGER limits_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON allot.limits
  FOR EACH STATEMENT EXECUTE FUNCTION allot._limits_changed();

-- The durable part of a key's state: its path flag (the rollup and
-- allot.set_path write it; it survives restarts, shared memory does not),
-- and rate / last_seen as the rollup last saw them. Slow-path redemptions
-- lock a key's row here (in key order) so that its checks are serialised
-- and exact. allot.entities shows these rows together with the keys live
-- in shared memory.
CREATE TABLE allot.entity_state (
  key             text COLLATE "C" PRIMARY KEY,
  path            text NOT NULL DEFAULT 'fast' CHECK (path IN ('fast', 'slow')),
  last_seen       timestamptz,
  path_changed_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE allot.entity_state IS
  'Durable per-key state: path flag (fast or slow; slow-path redemptions lock the key''s row here) and when the row was created (last_seen). See the view allot.entities.';

-- Recent activity of slow-path keys, written by the rollup alone (never
-- locked by redemptions, so the rollup never waits for one).
-- The rate decays over time without being written: it is stored as of
-- rate_at and read as rate * exp(-(now - rate_at) / 10 s), so a rollup
-- writes only the keys granted since the last one.
CREATE TABLE allot.key_activity (
  key       text COLLATE "C" PRIMARY KEY,
  rate      double precision NOT NULL DEFAULT 0,
  last_seen timestamptz,
  rate_at   timestamptz NOT NULL DEFAULT pg_catalog.now()
) WITH (fillfactor = 70);  -- room for HOT updates
COMMENT ON TABLE allot.key_activity IS
  'Recent rate (units/s, decaying over ~10 s) as of rate_at, and last grant, of keys with a row in allot.entity_state. See the view allot.entities.';

-- Usage counted per (key, limit, window). The event log can rebuild it.
CREATE TABLE allot.counters (
  key          text COLLATE "C" NOT NULL,
  limit_id     bigint NOT NULL,
  window_start timestamptz NOT NULL,
  used         bigint NOT NULL,
  PRIMARY KEY (key, limit_id, window_start)
) WITH (fillfactor = 70);
COMMENT ON TABLE allot.counters IS
  'Units counted per (key, limit, window start); sliding limits keep one row per sub-bucket (1/60 of the window).';

-- The append-only audit log. seq is unique but is not commit order.
CREATE TABLE allot.events (
  seq    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  txn    uuid NOT NULL,
  at     timestamptz NOT NULL,
  -- 'grant', 'deny' or 'reverse'. Only the extension writes events, and
  -- no CHECK constraint: PostgreSQL builds a table's CHECK expressions
  -- again for every INSERT statement, a measurable share of a redeem.
  kind   text NOT NULL,
  keys   text[] COLLATE "C" NOT NULL,
  amount bigint NOT NULL,
  path   text NOT NULL,
  detail jsonb NOT NULL DEFAULT '{}'
);
-- Idempotency: a txn is granted at most once and reversed at most once.
CREATE UNIQUE INDEX events_grant_txn ON allot.events (txn) WHERE kind = 'grant';
CREATE UNIQUE INDEX events_reverse_txn ON allot.events (txn) WHERE kind = 'reverse';
COMMENT ON TABLE allot.events IS
  'Append-only audit log: every grant, denial (when allot.log_denials is on) and reversal. detail.counted lists [key, limit_id, window_start] of every window a grant or reversal changed, with a fourth element "f" where the fast path counted it (the rollup folds those into allot.counters).';

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
-- allot.reverse of a grant older than the replay window finds it in the
-- index on txn of each partition, made with the partition (not an index on
-- this parent: it would belong to the extension, and a restore from
-- pg_dump, which attaches the dumped partitions and then creates their
-- indexes, would find the index already made by the attach).
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
    EXECUTE pg_catalog.format('CREATE INDEX %I ON %s (txn)', part_name || '_txn_idx', part);
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
  'Internal: creates the archive partition of the UTC day starting at "day", with its index on txn, unless it exists (with no privileges but its owner''s).';

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

-- Granted transactions, one row per txn, read from the log.
CREATE VIEW allot.txns AS
SELECT g.txn, ARRAY(SELECT k FROM unnest(g.keys) AS k ORDER BY k COLLATE "C") AS keys, g.amount, g.path, g.at AS granted_at, g.detail->'counted' AS counted,
       r.at AS reversed_at, r.detail->>'reason' AS reverse_reason
  FROM allot.event_log g
  LEFT JOIN allot.event_log r ON r.txn = g.txn AND r.kind = 'reverse'
 WHERE g.kind = 'grant';
COMMENT ON VIEW allot.txns IS
  'Granted transactions (one row per txn): keys, amount, path, when, the windows counted, and the reversal if any.';

-- Rollup bookkeeping: a single row.
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
INSERT INTO allot.rollup_state DEFAULT VALUES;
COMMENT ON TABLE allot.rollup_state IS
  'Rollup bookkeeping (one row): the last event seq folded into counters and rates, when, and how many rollups ran.';

-------------------------------------------------------------------------------
-- Types
-------------------------------------------------------------------------------
CREATE TYPE allot.decision AS (
  granted     boolean,
  replayed    boolean,
  path        text,
  denied_keys text[],
  retry_after interval
);
COMMENT ON TYPE allot.decision IS
  'Result of allot.redeem: granted, replayed (txn already granted, nothing new consumed), path, denied_keys, retry_after (NULL when granted or when waiting cannot help).';

CREATE TYPE allot.item_decision AS (
  idx         integer,
  granted     boolean,
  replayed    boolean,
  path        text,
  denied_keys text[],
  retry_after interval,
  error       text
);
COMMENT ON TYPE allot.item_decision IS
  'One item of allot.redeem_many: its 0-based position, the columns of allot.decision, and error (the problem with a malformed item, else NULL).';

-------------------------------------------------------------------------------
-- Limits
-------------------------------------------------------------------------------
CREATE FUNCTION allot.set_limit(scope text, max bigint, per interval DEFAULT NULL,
                                sliding boolean DEFAULT false, valid tstzrange DEFAULT '(,)',
                                mode text DEFAULT 'enforce')
  RETURNS bigint
  LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS 'MODULE_PATHNAME', 'allot_set_limit';
COMMENT ON FUNCTION allot.set_limit(text, bigint, interval, boolean, tstzrange, text) IS
  'Creates or updates (same scope, per, sliding, valid) a limit of "max" units per window; scope is a key (voucher:V1) or a class (voucher:*). per NULL: a total over "valid". mode: enforce | shadow. Returns the limit id.';

CREATE FUNCTION allot.drop_limit(scope text, per interval DEFAULT NULL, sliding boolean DEFAULT false)
  RETURNS integer
  LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS 'MODULE_PATHNAME', 'allot_drop_limit';
COMMENT ON FUNCTION allot.drop_limit(text, interval, boolean) IS
  'Drops the limits of scope with this per and sliding (every valid range) and their counters. Returns how many were dropped.';

-------------------------------------------------------------------------------
-- Redemption
-------------------------------------------------------------------------------
CREATE FUNCTION allot.redeem(txn uuid, keys text[], amount bigint DEFAULT 1)
  RETURNS allot.decision
  LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS 'MODULE_PATHNAME', 'allot_redeem';
COMMENT ON FUNCTION allot.redeem(uuid, text[], bigint) IS
  'Redeems "amount" units on every key, all or nothing, inside the caller''s transaction. Idempotent on txn: a granted txn replays its decision (replayed = true); the same txn with other keys or amount raises 23505.';

CREATE FUNCTION allot.redeem_many(requests jsonb)
  RETURNS SETOF allot.item_decision
  LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS 'MODULE_PATHNAME', 'allot_redeem_many';
COMMENT ON FUNCTION allot.redeem_many(jsonb) IS
  'Decides up to 10,000 requests [{"txn": uuid, "keys": [...], "amount": n}, ...] in order, each on its own: a denied or malformed item does not stop the others (a malformed one gets granted = false and "error").';

CREATE FUNCTION allot.can_redeem(keys text[], amount bigint DEFAULT 1)
  RETURNS TABLE (key text, limit_id bigint, allowed boolean, remaining bigint, retry_after interval)
  LANGUAGE c STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS 'MODULE_PATHNAME', 'allot_can_redeem';
COMMENT ON FUNCTION allot.can_redeem(text[], bigint) IS
  'Read-only pre-check, consumes nothing: one row per (key, applicable limit). allowed is false where an enforced limit has no room for amount (shadow limits never deny); remaining is max - used, at least 0.';

CREATE FUNCTION allot.reverse(txn uuid, reason text DEFAULT NULL)
  RETURNS boolean
  LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS 'MODULE_PATHNAME', 'allot_reverse';
COMMENT ON FUNCTION allot.reverse(uuid, text) IS
  'Gives back what a granted txn consumed, in the windows it was counted in. true: reversed now; false: already reversed, or never granted. Idempotent and transactional.';

-------------------------------------------------------------------------------
-- Rollup
-------------------------------------------------------------------------------
CREATE FUNCTION allot.rollup()
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
-- Audit views
-------------------------------------------------------------------------------
-- Keys as the rollup and shared memory see them: the durable rows, and the
-- keys live in shared memory (fast, or marked slow).
CREATE VIEW allot.entities AS
SELECT coalesce(s.key, t.key) AS key,
       CASE WHEN s.state IN ('fast', 'closing', 'loading') THEN 'fast'
            WHEN s.state = 'slow' THEN 'slow'
            WHEN allot._preloaded() THEN t.path
            ELSE 'slow' END AS path,
       -- A durable rate is as of rate_at: decayed to now (time constant 10 s).
       coalesce(s.rate,
                a.rate * pg_catalog.exp(-greatest(pg_catalog.date_part(
                  'epoch', pg_catalog.clock_timestamp() - a.rate_at), 0) / 10.0),
                0) AS rate,
       greatest(s.last_used, t.last_seen, a.last_seen) AS last_seen,
       coalesce(t.path_changed_at, s.state_since) AS path_changed_at
  FROM allot.entity_state t
  LEFT JOIN allot.key_activity a ON a.key = t.key
  FULL JOIN allot._shared_keys() s ON s.key = t.key;
COMMENT ON VIEW allot.entities IS
  'Keys with limits: path (fast or slow), recent rate (units/s), when last granted, and when the path last changed.';

-- Grants and reversals the fast path counted that the rollup has not
-- folded into allot.counters yet.
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

-- A window holds more than max when a counter row (fixed or total) exceeds
-- it, or, for sliding limits, when the sub-buckets of any span of length per
-- do. Shadow limits count too: their excess is where they would have denied.
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

CREATE FUNCTION allot.verify()
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
COMMENT ON FUNCTION allot.verify() IS
  'Every (key, limit, window) where the counters (plus fast-path grants not folded yet) disagree with what the event log says was granted minus reversed. Empty means sound.';

CREATE FUNCTION allot._stats(
    OUT grants_fast bigint, OUT grants_slow bigint, OUT denials bigint, OUT replays bigint,
    OUT reversals bigint, OUT promotions bigint, OUT demotions bigint, OUT rollups bigint,
    OUT shared_keys_used bigint, OUT max_keys bigint, OUT since timestamptz)
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'allot_stats';

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
-- pg_dump: the data of every table (see pg_allot--0.4--0.5.sql)
-------------------------------------------------------------------------------
-- CREATE EXTENSION inserts the one row of allot.rollup_state; a restore
-- then copies the dumped row in. That second insert becomes an update of
-- the row, so the restored database keeps the dumped fold position (a
-- fresh one would fold the restored log into the restored counters again).
-- pg_dump orders this table's data after the log's and the limits' (by
-- name), so the trigger also folds what the dump caught unfolded (fast-path
-- grants logged after the dumped fold position). Left to the rollup, they
-- could stay unfolded while new fast-path redemptions load their keys from
-- the counters alone: when a server's first fold of the database runs
-- before the restore has loaded the log, it later folds only the seqs
-- written since. If a rollup folded restored fast-path grants before this
-- row arrived (a restore in several transactions, with the rollup worker or
-- a scheduled allot.rollup() running meanwhile), they may be counted twice:
-- that is an error, with the way to restore safely.
CREATE FUNCTION allot._rollup_state_restore() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  folded_upto bigint;
BEGIN
  -- Locked to the end of the restore's transaction: no rollup runs in between.
  SELECT r.last_seq INTO folded_upto FROM allot.rollup_state r FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NEW;
  END IF;
  IF folded_upto > 0 AND EXISTS (
       SELECT 1 FROM allot.events e, pg_catalog.jsonb_array_elements(e.detail->'counted') AS f
        WHERE e.seq <= folded_upto AND e.kind IN ('grant', 'reverse') AND f->>3 = 'f'
          AND EXISTS (SELECT 1 FROM allot.limits l WHERE l.id = (f->>1)::bigint)) THEN
    RAISE EXCEPTION 'pg_allot: a rollup ran in this database while the restore was loading it (it folded the log up to seq % before the dumped fold position arrived), so the counters may count restored fast-path grants twice',
                    folded_upto
      USING ERRCODE = '55000',
            HINT = 'Restore into a new database in one transaction: psql --single-transaction, or pg_restore --single-transaction (not -j).';
  END IF;
  -- The rollup's fold, from the dumped fold position on.
  INSERT INTO allot.counters AS c (key, limit_id, window_start, used)
  SELECT x.key, x.limit_id, x.window_start, pg_catalog.sum(x.units)::bigint
    FROM (SELECT f->>0 AS key, (f->>1)::bigint AS limit_id, (f->>2)::timestamptz AS window_start,
                 CASE e.kind WHEN 'grant' THEN e.amount ELSE -e.amount END AS units
            FROM allot.events e, pg_catalog.jsonb_array_elements(e.detail->'counted') AS f
           WHERE e.seq > NEW.last_seq AND e.kind IN ('grant', 'reverse') AND f->>3 = 'f') x
   WHERE EXISTS (SELECT 1 FROM allot.limits l WHERE l.id = x.limit_id)
   GROUP BY 1, 2, 3
  ON CONFLICT (key, limit_id, window_start) DO UPDATE SET used = c.used + EXCLUDED.used;
  UPDATE allot.rollup_state
     SET last_seq = GREATEST(NEW.last_seq, folded_upto,
                             (SELECT pg_catalog.max(e.seq) FROM allot.events e)),
         unfolded_possible = NEW.unfolded_possible, last_at = NEW.last_at, rollups = NEW.rollups;
  RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION allot._rollup_state_restore() IS
  'Internal: a second row inserted into allot.rollup_state (a restore from pg_dump) updates the one row instead, and folds the fast-path grants logged after the dumped fold position; an error if a rollup folded restored fast-path grants before the row arrived.';
CREATE TRIGGER rollup_state_restore BEFORE INSERT ON allot.rollup_state
  FOR EACH ROW EXECUTE FUNCTION allot._rollup_state_restore();

SELECT pg_catalog.pg_extension_config_dump('allot.limits', '');
SELECT pg_catalog.pg_extension_config_dump('allot.limits_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('allot.entity_state', '');
SELECT pg_catalog.pg_extension_config_dump('allot.key_activity', '');
SELECT pg_catalog.pg_extension_config_dump('allot.counters', '');
SELECT pg_catalog.pg_extension_config_dump('allot.events', '');
SELECT pg_catalog.pg_extension_config_dump('allot.events_seq_seq', '');
SELECT pg_catalog.pg_extension_config_dump('allot.archived_usage', '');
SELECT pg_catalog.pg_extension_config_dump('allot.rollup_state', '');

-------------------------------------------------------------------------------
-- Privileges: PUBLIC gets nothing; three roles get what their names say.
-------------------------------------------------------------------------------
REVOKE ALL ON ALL TABLES IN SCHEMA allot FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA allot FROM PUBLIC;

-- Before the grants below nobody but the owner holds anything here: not
-- PUBLIC, whose built-in defaults (EXECUTE on functions, USAGE on types)
-- would otherwise stay, and not whoever the installing role's default
-- privileges (ALTER DEFAULT PRIVILEGES ... GRANT) name.
DO $acl$
DECLARE
  o record;
BEGIN
  FOR o IN
    SELECT DISTINCT x.target,
           CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END AS grantee
      FROM (SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE ' ELSE 'TABLE ' END || c.oid::pg_catalog.regclass::text,
                   c.relowner, c.relacl
              FROM pg_catalog.pg_class c
             WHERE c.relnamespace = 'allot'::pg_catalog.regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
            UNION ALL
            SELECT 'ROUTINE ' || p.oid::pg_catalog.regprocedure::text, p.proowner,
                   coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))
              FROM pg_catalog.pg_proc p
             WHERE p.pronamespace = 'allot'::pg_catalog.regnamespace
            UNION ALL
            -- types of their own (not arrays, not the row types of tables)
            SELECT 'TYPE ' || t.oid::pg_catalog.regtype::text, t.typowner,
                   coalesce(t.typacl, pg_catalog.acldefault('T', t.typowner))
              FROM pg_catalog.pg_type t
              LEFT JOIN pg_catalog.pg_class c ON c.oid = t.typrelid
             WHERE t.typnamespace = 'allot'::pg_catalog.regnamespace AND t.typcategory <> 'A'
               AND (t.typrelid = 0 OR c.relkind = 'c')) AS x(target, owner, acl),
           pg_catalog.aclexplode(x.acl) a
     WHERE a.grantee <> x.owner
     ORDER BY 1, 2
  LOOP
    EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM %s', o.target, o.grantee);
  END LOOP;
END
$acl$;

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
                          allot.set_path(text, text),
                          allot.archive_events(interval),
                          allot.drop_archived_events(interval)
  TO allot_admin;

GRANT SELECT ON allot.limits, allot.entities, allot.entity_state, allot.key_activity,
                allot.events, allot.usage,
                allot.violations, allot.stats, allot.txns, allot.unfolded,
                allot.events_archive, allot.archived_usage, allot.event_log
  TO allot_auditor, allot_admin;
GRANT EXECUTE ON FUNCTION allot.verify(), allot._stats(), allot._now(), allot._shared_keys(),
                          allot._preloaded(),
                          allot._current_window(interval, boolean, tstzrange, timestamptz)
  TO allot_auditor, allot_admin;
