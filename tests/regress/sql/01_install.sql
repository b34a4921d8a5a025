-- 01_install: what CREATE EXTENSION pg_allot puts in place, who may use it,
-- and that the extension can be dropped and created again.

SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_allot;
RESET client_min_messages;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';

-- The extension lives in schema "allot" and is not relocatable.
SELECT e.extname, e.extversion, e.extnamespace::regnamespace AS schema, e.extrelocatable
  FROM pg_extension e WHERE e.extname = 'pg_allot';

-- The three roles exist (created when missing, never dropped: they are
-- cluster-wide) and cannot log in.
SELECT rolname, rolcanlogin, rolsuper
  FROM pg_roles WHERE rolname IN ('allot_client', 'allot_admin', 'allot_auditor')
 ORDER BY rolname;

-- The public API (API.md): every function is there with its signature.
\df allot.*

-- Every public function (no leading underscore) and every view explains
-- itself with a COMMENT (\df+ / \dv+ show it).
SELECT p.proname, obj_description(p.oid, 'pg_proc') IS NOT NULL AS has_comment
  FROM pg_proc p
 WHERE p.pronamespace = 'allot'::regnamespace AND p.proname NOT LIKE '\_%'
 ORDER BY p.proname;
SELECT c.relname, c.relkind, obj_description(c.oid, 'pg_class') IS NOT NULL AS has_comment
  FROM pg_class c
 WHERE c.relnamespace = 'allot'::regnamespace AND c.relkind IN ('r', 'v')
   AND c.relname NOT LIKE '%\_state'
 ORDER BY c.relname;

-- The result types of redeem and redeem_many, column by column.
SELECT t.typname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) AS type
  FROM pg_type t JOIN pg_attribute a ON a.attrelid = t.typrelid
 WHERE t.typnamespace = 'allot'::regnamespace AND t.typname IN ('decision', 'item_decision')
   AND a.attnum > 0
 ORDER BY t.typname, a.attnum;

-- PUBLIC gets nothing: no function of the schema is executable by PUBLIC.
-- (A NULL proacl would mean the default, which includes EXECUTE for PUBLIC.)
SELECT p.oid::regprocedure AS executable_by_public
  FROM pg_proc p
 WHERE p.pronamespace = 'allot'::regnamespace
   AND (p.proacl IS NULL
        OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a
                    WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'));
-- ... no table or view grants PUBLIC anything, and neither does the schema.
SELECT c.oid::regclass AS readable_by_public
  FROM pg_class c
 WHERE c.relnamespace = 'allot'::regnamespace AND c.relkind IN ('r', 'v')
   AND EXISTS (SELECT 1 FROM aclexplode(c.relacl) a WHERE a.grantee = 0);
SELECT count(*) AS public_schema_grants
  FROM pg_namespace n, aclexplode(n.nspacl) a
 WHERE n.nspname = 'allot' AND a.grantee = 0;

-- Function privileges of the three roles, as API.md lists them:
--   allot_client:  redeem, redeem_many, can_redeem, reverse
--   allot_admin:   those, plus set_limit, drop_limit, rollup
--   allot_auditor: verify (and reading the views)
SELECT f.fn,
       has_function_privilege('allot_client', f.fn, 'EXECUTE') AS client,
       has_function_privilege('allot_admin', f.fn, 'EXECUTE') AS admin,
       has_function_privilege('allot_auditor', f.fn, 'EXECUTE') AS auditor
  FROM (VALUES ('allot.redeem(uuid,text[],bigint)'),
               ('allot.redeem_many(jsonb)'),
               ('allot.can_redeem(text[],bigint)'),
               ('allot.reverse(uuid,text)'),
               ('allot.set_limit(text,bigint,interval,boolean,tstzrange,text)'),
               ('allot.drop_limit(text,interval,boolean)'),
               ('allot.rollup()'),
               ('allot.verify()')) AS f(fn)
 ORDER BY f.fn;

-- Reading: the auditor (and the admin) read the log and the views; the
-- client reads nothing directly.
SELECT r.rel,
       has_table_privilege('allot_client', r.rel, 'SELECT') AS client,
       has_table_privilege('allot_admin', r.rel, 'SELECT') AS admin,
       has_table_privilege('allot_auditor', r.rel, 'SELECT') AS auditor
  FROM (VALUES ('allot.limits'), ('allot.events'), ('allot.usage'), ('allot.entities'),
               ('allot.violations'), ('allot.stats')) AS r(rel)
 ORDER BY r.rel;

-- The audit log is append-only for everybody but the owner: no role may
-- INSERT, UPDATE, DELETE or TRUNCATE allot.events (or the counters) directly.
SELECT r.rolname, t.rel,
       has_table_privilege(r.rolname, t.rel, 'INSERT') AS ins,
       has_table_privilege(r.rolname, t.rel, 'UPDATE') AS upd,
       has_table_privilege(r.rolname, t.rel, 'DELETE') AS del,
       has_table_privilege(r.rolname, t.rel, 'TRUNCATE') AS trunc
  FROM (VALUES ('allot_client'), ('allot_admin'), ('allot_auditor')) AS r(rolname),
       (VALUES ('allot.events'), ('allot.counters'), ('allot.txns'), ('allot.limits')) AS t(rel)
 ORDER BY r.rolname, t.rel;

-- The roles in action (SET ROLE keeps this superuser session's settings).
SET allot.clock_override = '2026-03-31 12:00:00+00';
SET ROLE allot_admin;
SELECT allot.set_limit('install:*', 5) IS NOT NULL AS admin_sets_a_limit;
RESET ROLE;

SET ROLE allot_client;
SELECT granted, replayed, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000000101', ARRAY['install:I1']);
SELECT key, allowed, remaining FROM allot.can_redeem(ARRAY['install:I1']);
SELECT allot.reverse('00000000-0000-4000-8000-000000000101') AS client_reverses;
-- ... but may not change limits, nor read the log, nor undo the log.
SELECT allot.set_limit('install:*', 50);
SELECT count(*) FROM allot.events;
DELETE FROM allot.events;
-- ... nor change the superuser-only settings.
SET allot.log_denials = off;
SET allot.clock_override = '';
RESET ROLE;

SET ROLE allot_auditor;
SELECT kind, keys, amount FROM allot.events ORDER BY seq;
SELECT count(*) AS verify_rows FROM allot.verify();
-- Every view reads without a permission error (the helper functions the
-- views call are granted to the auditor too).
SELECT (SELECT count(*) FROM allot.limits) AS limits,
       (SELECT count(*) FROM allot.usage) AS usage,
       (SELECT count(*) FROM allot.entities) AS entities,
       (SELECT count(*) FROM allot.violations) AS violations,
       (SELECT count(*) FROM allot.stats) AS stats;
-- The auditor only reads: no redeeming, no rewriting the log.
SELECT allot.redeem('00000000-0000-4000-8000-000000000102', ARRAY['install:I1']);
UPDATE allot.events SET amount = 0;
RESET ROLE;

-- The settings exist with their documented defaults.
RESET allot.clock_override;
SELECT name, setting, context
  FROM pg_settings WHERE name IN ('allot.log_denials', 'allot.clock_override')
 ORDER BY name;
-- allot.clock_override rejects what is not a timestamp, when it is set.
SET allot.clock_override = 'not a time';
SHOW allot.clock_override;

-- DROP EXTENSION removes everything it created in schema allot (the roles
-- stay, and so does the schema itself: PostgreSQL creates the schema named
-- in the control file but does not make it a member of the extension);
-- CREATE EXTENSION then works again and starts from nothing.
DROP EXTENSION pg_allot CASCADE;
SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = 'allot'::regnamespace) AS relations,
       (SELECT count(*) FROM pg_proc WHERE pronamespace = 'allot'::regnamespace) AS functions,
       (SELECT count(*) FROM pg_type WHERE typnamespace = 'allot'::regnamespace) AS types;
SELECT count(*) AS allot_roles
  FROM pg_roles WHERE rolname IN ('allot_client', 'allot_admin', 'allot_auditor');
CREATE EXTENSION pg_allot;
SELECT count(*) AS limits FROM allot.limits;
SELECT count(*) AS events FROM allot.events;
-- Installing over roles that already exist is fine (they were kept above).
SELECT allot.set_limit('install:*', 5) AS first_limit_id_again;

DROP EXTENSION pg_allot CASCADE;
