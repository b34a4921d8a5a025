-- pg_allot 0.4 -> 0.5: pg_dump keeps the extension's data.
-- The tables of schema allot belong to the extension, and pg_dump leaves the
-- rows of extension tables out unless they are registered as configuration
-- tables: a dump restored elsewhere had no limits, counters or log. Every
-- table that holds data is registered (the partitions of
-- allot.events_archive are not extension members and were dumped already),
-- and so are the two sequences, so that restored events and limits keep
-- their numbers and new ones come after them. The archive's index on txn
-- moves to its partitions, so that a restore of archived days works.

\echo Use "ALTER EXTENSION pg_allot UPDATE TO '0.5'" to load this file. \quit

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
-- Nobody but the owner may call it: not PUBLIC, and not whoever the
-- installing role's default privileges name (as for every function here).
DO $acl$
DECLARE
  grantee text;
BEGIN
  FOR grantee IN
    SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                         ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END
      FROM pg_catalog.pg_proc p,
           pg_catalog.aclexplode(coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))) a
     WHERE p.oid = 'allot._rollup_state_restore()'::pg_catalog.regprocedure
       AND a.grantee <> p.proowner
  LOOP
    EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION allot._rollup_state_restore() FROM %s', grantee);
  END LOOP;
END
$acl$;
CREATE TRIGGER rollup_state_restore BEFORE INSERT ON allot.rollup_state
  FOR EACH ROW EXECUTE FUNCTION allot._rollup_state_restore();

-- The archive's index on txn moves from the parent to each partition: an
-- index on the parent belongs to the extension, and a restore attaches the
-- dumped partitions (which builds their part of it) and then creates their
-- dumped indexes, which then exist already. Existing partitions get the
-- index they had, under the name the attach gave it.
DROP INDEX allot.events_archive_txn;
DO $idx$
DECLARE
  part regclass;
BEGIN
  FOR part IN
    SELECT i.inhrelid::regclass FROM pg_catalog.pg_inherits i
     WHERE i.inhparent = 'allot.events_archive'::regclass
  LOOP
    EXECUTE pg_catalog.format('CREATE INDEX %I ON %s (txn)',
      (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = part) || '_txn_idx', part);
  END LOOP;
END
$idx$;

CREATE OR REPLACE FUNCTION allot._archive_partition(day timestamptz) RETURNS void
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


SELECT pg_catalog.pg_extension_config_dump('allot.limits', '');
SELECT pg_catalog.pg_extension_config_dump('allot.limits_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('allot.entity_state', '');
SELECT pg_catalog.pg_extension_config_dump('allot.key_activity', '');
SELECT pg_catalog.pg_extension_config_dump('allot.counters', '');
SELECT pg_catalog.pg_extension_config_dump('allot.events', '');
SELECT pg_catalog.pg_extension_config_dump('allot.events_seq_seq', '');
SELECT pg_catalog.pg_extension_config_dump('allot.archived_usage', '');
SELECT pg_catalog.pg_extension_config_dump('allot.rollup_state', '');
