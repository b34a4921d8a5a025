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
CREATE FUNCTION allot._rollup_state_restore() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  IF EXISTS (SELECT 1 FROM allot.rollup_state) THEN
    UPDATE allot.rollup_state
       SET last_seq = NEW.last_seq, unfolded_possible = NEW.unfolded_possible,
           last_at = NEW.last_at, rollups = NEW.rollups;
    RETURN NULL;
  END IF;
  RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION allot._rollup_state_restore() IS
  'Internal: a second row inserted into allot.rollup_state (a restore from pg_dump) updates the one row instead.';
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
