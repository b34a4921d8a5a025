-- pg_allot 0.1: redemption quotas for vouchers and coupons.
-- Everything lives in schema "allot" (created by CREATE EXTENSION from the
-- control file). Every reference below is schema-qualified, and every
-- SECURITY DEFINER function fixes its search_path, so a hostile search_path
-- at install or call time cannot redirect anything.

\echo Use "CREATE EXTENSION pg_allot" to load this file. \quit

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

CREATE FUNCTION allot._current_window(per interval, sliding boolean, valid tstzrange, at timestamptz,
                                      OUT window_start timestamptz, OUT rows_from timestamptz,
                                      OUT rows_to timestamptz)
  LANGUAGE c IMMUTABLE PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'allot_current_window';
COMMENT ON FUNCTION allot._current_window(interval, boolean, tstzrange, timestamptz) IS
  'Internal: the window of a limit holding "at": its start, and the range [rows_from, rows_to) of counter window_start values that make up its usage.';

-- The time the audit views look at: the decision clock (allot.clock_override
-- when a test pins it, else the transaction's now()).
CREATE FUNCTION allot._now() RETURNS timestamptz
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT coalesce(nullif(pg_catalog.current_setting('allot.clock_override', true), '')::timestamptz,
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

-- One row per key that has limits: the row redeem() locks (in key order) so
-- that checks of the same key are serialised and exact.
CREATE TABLE allot.entities (
  key             text COLLATE "C" PRIMARY KEY,
  path            text NOT NULL DEFAULT 'slow' CHECK (path IN ('fast', 'slow')),
  rate            double precision NOT NULL DEFAULT 0,
  last_seen       timestamptz,
  path_changed_at timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 70);  -- room for HOT updates of last_seen and rate
COMMENT ON TABLE allot.entities IS
  'Keys that have limits: their path (fast or slow), recent rate (units/s) and when they were last granted (both kept by rollup; last_seen starts as the key''s first appearance).';

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

-- Granted transactions: what makes redeem idempotent, and what reverse gives back.
CREATE TABLE allot.txns (
  txn            uuid PRIMARY KEY,
  keys           text[] COLLATE "C" NOT NULL,  -- sorted
  amount         bigint NOT NULL,
  path           text NOT NULL,
  granted_at     timestamptz NOT NULL,
  counted        jsonb NOT NULL,     -- [[key, limit_id, window_start], ...]
  reversed_at    timestamptz,
  reverse_reason text
);
COMMENT ON TABLE allot.txns IS
  'Granted transactions (one row per txn) with the windows they were counted in; reversed ones keep their row.';

-- The append-only audit log. seq is unique but is not commit order.
CREATE TABLE allot.events (
  seq    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  txn    uuid NOT NULL,
  at     timestamptz NOT NULL,
  kind   text NOT NULL CHECK (kind IN ('grant', 'deny', 'reverse')),
  keys   text[] COLLATE "C" NOT NULL,
  amount bigint NOT NULL,
  path   text NOT NULL,
  detail jsonb NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE allot.events IS
  'Append-only audit log: every grant, denial (when allot.log_denials is on) and reversal. detail.counted lists [key, limit_id, window_start] of every window a grant or reversal changed.';

-- Rollup bookkeeping: a single row.
CREATE TABLE allot.rollup_state (
  singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  last_seq   bigint NOT NULL DEFAULT 0,
  last_at    timestamptz NOT NULL DEFAULT now(),
  rollups    bigint NOT NULL DEFAULT 0
);
INSERT INTO allot.rollup_state DEFAULT VALUES;
COMMENT ON TABLE allot.rollup_state IS
  'Rollup bookkeeping (one row): the last event seq folded into rates, when, and how many rollups ran.';

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
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $rollup$
DECLARE
  -- Recent rate = exponentially weighted units/s with this time constant.
  tau constant double precision := 10.0;
  st allot.rollup_state;
  upto bigint;
  dt double precision;
  decay double precision;
  n_events bigint;
  n_keys bigint;
BEGIN
  -- The single state row serialises concurrent rollups.
  SELECT * INTO st FROM allot.rollup_state FOR UPDATE;
  dt := greatest(extract(epoch FROM clock_timestamp() - st.last_at)::double precision, 0.001);
  decay := exp(-dt / tau);
  SELECT coalesce(max(e.seq), st.last_seq), count(*) INTO upto, n_events
    FROM allot.events e WHERE e.seq > st.last_seq;

  -- Rates only (counters are exact already on the row-locked path). A
  -- watermark over seq can miss an event whose transaction commits late;
  -- that only makes a rate slightly low, never a count wrong.
  WITH fresh AS (
    SELECT k AS key, sum(e.amount)::double precision AS units, max(e.at) AS last_at
      FROM allot.events e, unnest(e.keys) AS k
     WHERE e.seq > st.last_seq AND e.seq <= upto AND e.kind = 'grant'
     GROUP BY k
  ), target AS (
    -- SKIP LOCKED: never wait behind a redemption; a skipped key is
    -- updated by the next rollup. Lock in key order, like redeem.
    SELECT en.key, coalesce(f.units, 0) AS units, f.last_at
      FROM allot.entities en LEFT JOIN fresh f ON f.key = en.key
     WHERE f.key IS NOT NULL OR en.rate > 0
     ORDER BY en.key
       FOR UPDATE OF en SKIP LOCKED
  ), upd AS (
    UPDATE allot.entities en
       SET rate = CASE WHEN t.units = 0 AND en.rate * decay < 1e-6 THEN 0
                       ELSE en.rate * decay + (t.units / dt) * (1 - decay) END,
           -- redeem does not write entity rows under READ COMMITTED (it only
           -- locks them), so the last grant's time comes from the log
           last_seen = greatest(en.last_seen, t.last_at)
      FROM target t
     WHERE en.key = t.key
    RETURNING 1
  )
  SELECT count(*) INTO n_keys FROM upd;

  UPDATE allot.rollup_state
     SET last_seq = upto, last_at = clock_timestamp(), rollups = rollup_state.rollups + 1;
  PERFORM allot._note_rollup();
  RETURN QUERY SELECT n_events, n_keys, 0, 0;
END
$rollup$;
COMMENT ON FUNCTION allot.rollup() IS
  'Folds new events into each key''s recent rate and moves keys between the fast and slow path. Always safe to call by hand; returns counts of events read, keys updated, keys promoted and demoted.';

CREATE FUNCTION allot._note_rollup() RETURNS void
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'allot_note_rollup';

-------------------------------------------------------------------------------
-- Audit views
-------------------------------------------------------------------------------
CREATE VIEW allot.usage AS
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
  JOIN allot.counters c
    ON c.limit_id = l.id AND c.window_start >= w.rows_from AND c.window_start < w.rows_to
  LEFT JOIN allot.entities en ON en.key = c.key
 WHERE l.valid @> allot._now()
 GROUP BY c.key, l.id, l.max, w.window_start, en.path, en.rate;
COMMENT ON VIEW allot.usage IS
  'Usage in the current window of every (key, limit) with usage: used, max, remaining, window_start (for sliding limits: now - per), path and recent rate (units/s).';

-- A window holds more than max when a counter row (fixed or total) exceeds
-- it, or, for sliding limits, when the sub-buckets of any span of length per
-- do. Shadow limits count too: their excess is where they would have denied.
CREATE VIEW allot.violations AS
SELECT c.key, l.id AS limit_id, l.mode, c.window_start, c.used, l.max, c.used - l.max AS excess
  FROM allot.counters c JOIN allot.limits l ON l.id = c.limit_id
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
    SELECT c->>0 AS key, (c->>1)::bigint AS limit_id, (c->>2)::timestamptz AS window_start,
           sum(CASE e.kind WHEN 'grant' THEN e.amount ELSE -e.amount END)::bigint AS units
      FROM allot.events e, jsonb_array_elements(e.detail->'counted') AS c
     WHERE e.kind IN ('grant', 'reverse')
     GROUP BY 1, 2, 3
  )
  SELECT coalesce(k.key, f.key), coalesce(k.limit_id, f.limit_id),
         coalesce(k.window_start, f.window_start), k.used, f.units
    FROM allot.counters k
    FULL JOIN from_log f
      ON f.key = k.key AND f.limit_id = k.limit_id AND f.window_start = k.window_start
   WHERE coalesce(k.used, 0) <> coalesce(f.units, 0)
     -- counters of a dropped limit are gone on purpose
     AND EXISTS (SELECT 1 FROM allot.limits l WHERE l.id = coalesce(k.limit_id, f.limit_id))
   ORDER BY 1, 2, 3
$verify$;
COMMENT ON FUNCTION allot.verify() IS
  'Every (key, limit, window) where the counters disagree with what the event log says was granted minus reversed. Empty means sound.';

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
-- Privileges: PUBLIC gets nothing; three roles get what their names say.
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
                          allot.rollup()
  TO allot_admin;

GRANT SELECT ON allot.limits, allot.entities, allot.events, allot.usage, allot.violations,
                allot.stats, allot.txns
  TO allot_auditor, allot_admin;
GRANT EXECUTE ON FUNCTION allot.verify(), allot._stats(), allot._now(),
                          allot._current_window(interval, boolean, tstzrange, timestamptz)
  TO allot_auditor, allot_admin;
