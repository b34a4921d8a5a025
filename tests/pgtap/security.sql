-- Install-script hygiene: SECURITY DEFINER functions fix their search_path
-- (so a caller's search_path cannot redirect what they run as the owner),
-- every object of the extension lives in schema allot (nothing in public),
-- nobody but the owner can create objects in allot, and the public surface
-- is documented (COMMENT on every public function, table, view and type).
--
-- Run: pg_prove -h HOST -p PORT -U postgres -d DB tests/pgtap/*.sql
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS pg_allot;

SELECT plan(14);

-- SECURITY DEFINER functions ---------------------------------------------------
SELECT cmp_ok((SELECT count(*) FROM pg_catalog.pg_proc p
                WHERE p.pronamespace = 'allot'::regnamespace AND p.prosecdef),
              '>=', 7::bigint,
              'the API functions are SECURITY DEFINER (redeem, redeem_many, can_redeem, reverse, set_limit, drop_limit, rollup, verify)');

SELECT is_empty($$
  SELECT p.oid::regprocedure::text
    FROM pg_catalog.pg_proc p
   WHERE p.pronamespace = 'allot'::regnamespace
     AND p.prosecdef
     AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) AS c(setting)
                      WHERE c.setting LIKE 'search_path=%')
$$, 'every SECURITY DEFINER function in allot sets search_path (proconfig)');

-- The fixed path must not let a caller's objects in: no public, no $user,
-- and pg_temp named explicitly and last (else it is searched first).
SELECT is_empty($$
  SELECT p.oid::regprocedure::text || ': ' || c.setting
    FROM pg_catalog.pg_proc p, unnest(p.proconfig) AS c(setting)
   WHERE p.pronamespace = 'allot'::regnamespace
     AND p.prosecdef
     AND c.setting LIKE 'search_path=%'
     AND (c.setting ~ '(^|[=, ])"?public"?($|[, ])'
          OR c.setting LIKE '%$user%'
          OR c.setting !~ '(^|[=, ])pg_temp\s*$')
$$, 'every SECURITY DEFINER search_path excludes public and $user and ends with pg_temp');

-- Internal helpers run as the caller: a SECURITY DEFINER helper would hand
-- the owner's rights to whoever it is granted to.
SELECT is_empty($$
  SELECT p.oid::regprocedure::text
    FROM pg_catalog.pg_proc p
   WHERE p.pronamespace = 'allot'::regnamespace
     AND p.prosecdef
     AND p.proname LIKE '\_%'
$$, 'no internal (underscore) function in allot is SECURITY DEFINER');

-- Where the extension's objects live -----------------------------------------------
SELECT is_empty($$
  SELECT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid)
    FROM pg_catalog.pg_depend d
    JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
   WHERE d.refclassid = 'pg_catalog.pg_extension'::regclass
     AND d.deptype = 'e'
     AND e.extname = 'pg_allot'
     AND (pg_catalog.pg_identify_object(d.classid, d.objid, d.objsubid)).schema = 'public'
$$, 'no object of pg_allot is in schema public');

SELECT is_empty($$
  SELECT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid)
    FROM pg_catalog.pg_depend d
    JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
   WHERE d.refclassid = 'pg_catalog.pg_extension'::regclass
     AND d.deptype = 'e'
     AND e.extname = 'pg_allot'
     AND (pg_catalog.pg_identify_object(d.classid, d.objid, d.objsubid)).schema IS DISTINCT FROM 'allot'
     AND d.classid <> 'pg_catalog.pg_namespace'::regclass
$$, 'every schema-qualified object of pg_allot is in schema allot');

SELECT ok(NOT pg_catalog.has_schema_privilege(r, 'allot', 'CREATE'),
          r || ' cannot create objects in schema allot')
  FROM unnest(ARRAY['allot_client', 'allot_admin', 'allot_auditor']) AS r;

-- Documentation -------------------------------------------------------------------
SELECT is_empty($$
  SELECT p.oid::regprocedure::text
    FROM pg_catalog.pg_proc p
   WHERE p.pronamespace = 'allot'::regnamespace
     AND p.proname NOT LIKE '\_%'
     AND pg_catalog.obj_description(p.oid, 'pg_proc') IS NULL
$$, 'every public function in allot has a COMMENT');

SELECT is_empty($$
  SELECT c.oid::regclass::text
    FROM pg_catalog.pg_class c
   WHERE c.relnamespace = 'allot'::regnamespace
     AND c.relkind IN ('r', 'v', 'm', 'p')
     AND pg_catalog.obj_description(c.oid, 'pg_class') IS NULL
$$, 'every table and view in allot has a COMMENT');

SELECT is_empty($$
  SELECT t.oid::regtype::text
    FROM pg_catalog.pg_type t
    JOIN pg_catalog.pg_class c ON c.oid = t.typrelid
   WHERE t.typnamespace = 'allot'::regnamespace
     AND c.relkind = 'c'
     AND pg_catalog.obj_description(t.oid, 'pg_type') IS NULL
$$, 'every composite type in allot (decision, item_decision) has a COMMENT');

-- A hostile search_path does not redirect a redemption ------------------------------
-- Decoys named like the extension's tables, in a schema searched first.
CREATE SCHEMA tap_decoy;
CREATE TABLE tap_decoy.events (x int);
CREATE TABLE tap_decoy.txns (x int);
CREATE TABLE tap_decoy.counters (x int);
CREATE TABLE tap_decoy.entities (x int);
SET LOCAL search_path = tap_decoy, public;

SELECT is((allot.redeem('00000000-0000-0000-0000-00000000d001', ARRAY['tapsec:k1'])).granted, true,
          'redeem works with a hostile search_path');
SELECT is((SELECT count(*) FROM allot.events WHERE txn = '00000000-0000-0000-0000-00000000d001')
            + (SELECT count(*) FROM tap_decoy.events),
          1::bigint, 'the grant went to allot.events, not to the decoy');

SELECT * FROM finish();
ROLLBACK;
