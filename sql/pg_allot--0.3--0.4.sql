-- pg_allot 0.3 -> 0.4: a cheaper rollup and a cheaper grant.
-- allot.key_activity stores each rate as of rate_at and the view
-- allot.entities decays it to now, so a rollup writes only the keys granted
-- since the last one (0.3 rewrote every key with a rate on every rollup).
-- allot.events loses its CHECK on kind: PostgreSQL builds a table's CHECK
-- expressions again for every INSERT statement, a measurable share of a
-- redemption; only the extension writes events.

\echo Use "ALTER EXTENSION pg_allot UPDATE TO '0.4'" to load this file. \quit

-- The rate decays over time without being written: it is stored as of
-- rate_at and read as rate * exp(-(now - rate_at) / 10 s), so a rollup
-- writes only the keys granted since the last one.
ALTER TABLE allot.key_activity ADD COLUMN rate_at timestamptz NOT NULL DEFAULT pg_catalog.now();
COMMENT ON TABLE allot.key_activity IS
  'Recent rate (units/s, decaying over ~10 s) as of rate_at, and last grant, of keys with a row in allot.entity_state. See the view allot.entities.';

ALTER TABLE allot.events DROP CONSTRAINT events_kind_check;

CREATE OR REPLACE VIEW allot.entities AS
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
