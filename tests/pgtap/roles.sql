-- Roles and privileges (API.md, "Roles"): CREATE EXTENSION creates
-- allot_client, allot_admin and allot_auditor; PUBLIC gets nothing; each
-- role gets exactly what its name says; no role but the owner may UPDATE or
-- DELETE audit events. Catalog checks first, then behaviour under SET ROLE
-- (the functions are SECURITY DEFINER, so a client needs no table rights).
--
-- Run: pg_prove -h HOST -p PORT -U postgres -d DB tests/pgtap/*.sql
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS pg_allot;

SELECT plan(79);

-- The roles exist ------------------------------------------------------------
SELECT has_role('allot_client');
SELECT has_role('allot_admin');
SELECT has_role('allot_auditor');

-- PUBLIC gets nothing ----------------------------------------------------------
-- A NULL proacl means the default, which grants EXECUTE to PUBLIC.
SELECT is_empty($$
  SELECT p.oid::regprocedure::text
    FROM pg_catalog.pg_proc p
   WHERE p.pronamespace = 'allot'::regnamespace
     AND (p.proacl IS NULL
          OR EXISTS (SELECT 1 FROM pg_catalog.aclexplode(p.proacl) a WHERE a.grantee = 0))
$$, 'PUBLIC has no EXECUTE on any function in schema allot');

SELECT is_empty($$
  SELECT c.oid::regclass::text
    FROM pg_catalog.pg_class c
   WHERE c.relnamespace = 'allot'::regnamespace
     AND c.relkind IN ('r', 'v', 'm', 'S', 'p', 'f')
     AND EXISTS (SELECT 1 FROM pg_catalog.aclexplode(c.relacl) a WHERE a.grantee = 0)
$$, 'PUBLIC has no privilege on any table, view or sequence in schema allot');

SELECT is_empty($$
  SELECT c.oid::regclass::text || ' ' || p.priv
    FROM pg_catalog.pg_class c,
         unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) AS p(priv)
   WHERE c.relnamespace = 'allot'::regnamespace
     AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
     AND pg_catalog.has_table_privilege('public', c.oid, p.priv)
$$, 'has_table_privilege(public, ...) is false for every table and view in allot');

SELECT ok(NOT pg_catalog.has_schema_privilege('public', 'allot', 'USAGE'),
          'PUBLIC has no USAGE on schema allot');
SELECT ok(NOT pg_catalog.has_schema_privilege('public', 'allot', 'CREATE'),
          'PUBLIC has no CREATE on schema allot');

-- allot_client -------------------------------------------------------------------
SELECT ok(pg_catalog.has_schema_privilege('allot_client', 'allot', 'USAGE'),
          'allot_client has USAGE on schema allot');
SELECT ok(pg_catalog.has_function_privilege('allot_client', 'allot.redeem(uuid, text[], bigint)', 'EXECUTE'),
          'allot_client can execute redeem');
SELECT ok(pg_catalog.has_function_privilege('allot_client', 'allot.redeem_many(jsonb)', 'EXECUTE'),
          'allot_client can execute redeem_many');
SELECT ok(pg_catalog.has_function_privilege('allot_client', 'allot.can_redeem(text[], bigint)', 'EXECUTE'),
          'allot_client can execute can_redeem');
SELECT ok(pg_catalog.has_function_privilege('allot_client', 'allot.reverse(uuid, text)', 'EXECUTE'),
          'allot_client can execute reverse');
SELECT ok(NOT pg_catalog.has_function_privilege('allot_client',
            'allot.set_limit(text, bigint, interval, boolean, tstzrange, text)', 'EXECUTE'),
          'allot_client cannot execute set_limit');
SELECT ok(NOT pg_catalog.has_function_privilege('allot_client', 'allot.drop_limit(text, interval, boolean)', 'EXECUTE'),
          'allot_client cannot execute drop_limit');
SELECT ok(NOT pg_catalog.has_function_privilege('allot_client', 'allot.rollup()', 'EXECUTE'),
          'allot_client cannot execute rollup');
SELECT ok(NOT pg_catalog.has_table_privilege('allot_client', 'allot.events', 'SELECT'),
          'allot_client cannot SELECT allot.events');
SELECT ok(NOT pg_catalog.has_table_privilege('allot_client', 'allot.counters', 'INSERT')
          AND NOT pg_catalog.has_table_privilege('allot_client', 'allot.counters', 'UPDATE'),
          'allot_client cannot write allot.counters directly');

-- allot_admin --------------------------------------------------------------------
SELECT ok(pg_catalog.has_function_privilege('allot_admin',
            'allot.set_limit(text, bigint, interval, boolean, tstzrange, text)', 'EXECUTE'),
          'allot_admin can execute set_limit');
SELECT ok(pg_catalog.has_function_privilege('allot_admin', 'allot.drop_limit(text, interval, boolean)', 'EXECUTE'),
          'allot_admin can execute drop_limit');
SELECT ok(pg_catalog.has_function_privilege('allot_admin', 'allot.rollup()', 'EXECUTE'),
          'allot_admin can execute rollup');
SELECT ok(pg_catalog.has_function_privilege('allot_admin', 'allot.redeem(uuid, text[], bigint)', 'EXECUTE'),
          'allot_admin can execute redeem');
SELECT ok(pg_catalog.has_function_privilege('allot_admin', 'allot.redeem_many(jsonb)', 'EXECUTE'),
          'allot_admin can execute redeem_many');
SELECT ok(pg_catalog.has_function_privilege('allot_admin', 'allot.can_redeem(text[], bigint)', 'EXECUTE'),
          'allot_admin can execute can_redeem');
SELECT ok(pg_catalog.has_function_privilege('allot_admin', 'allot.reverse(uuid, text)', 'EXECUTE'),
          'allot_admin can execute reverse');

-- allot_auditor ------------------------------------------------------------------
SELECT ok(pg_catalog.has_table_privilege('allot_auditor', 'allot.' || v, 'SELECT'),
          'allot_auditor can SELECT allot.' || v)
  FROM unnest(ARRAY['events', 'usage', 'entities', 'limits', 'violations', 'stats']) AS v;
SELECT ok(pg_catalog.has_function_privilege('allot_auditor', 'allot.verify()', 'EXECUTE'),
          'allot_auditor can execute verify');
SELECT ok(NOT pg_catalog.has_function_privilege('allot_auditor', 'allot.redeem(uuid, text[], bigint)', 'EXECUTE'),
          'allot_auditor cannot execute redeem');
SELECT ok(NOT pg_catalog.has_function_privilege('allot_auditor',
            'allot.set_limit(text, bigint, interval, boolean, tstzrange, text)', 'EXECUTE'),
          'allot_auditor cannot execute set_limit');

-- Nobody but the owner may rewrite the audit log (3 roles + PUBLIC x 3 privileges)
SELECT ok(NOT pg_catalog.has_table_privilege(r, 'allot.events', p),
          r || ' cannot ' || p || ' allot.events')
  FROM unnest(ARRAY['allot_client', 'allot_admin', 'allot_auditor', 'public']) AS r,
       unnest(ARRAY['UPDATE', 'DELETE', 'TRUNCATE']) AS p;

-- Behaviour under SET ROLE ---------------------------------------------------------
-- Login-less members of each role (rolled back with the test transaction).
CREATE ROLE allot_tap_client NOLOGIN IN ROLE allot_client;
CREATE ROLE allot_tap_admin NOLOGIN IN ROLE allot_admin;
CREATE ROLE allot_tap_auditor NOLOGIN IN ROLE allot_auditor;
CREATE ROLE allot_tap_nobody NOLOGIN;

SELECT cmp_ok(allot.set_limit('taprole:k1', 5), '>', 0::bigint, 'the owner sets a limit for the role tests');

SET ROLE allot_tap_client;
SELECT is((allot.redeem('00000000-0000-0000-0000-00000000c001', ARRAY['taprole:k1'])).granted, true,
          'a member of allot_client redeems (SECURITY DEFINER: no table rights needed)');
SELECT is((SELECT count(*) FROM allot.can_redeem(ARRAY['taprole:k1'])), 1::bigint,
          'a member of allot_client runs can_redeem');
SELECT is(allot.reverse('00000000-0000-0000-0000-00000000c001', 'tap'), true,
          'a member of allot_client reverses its grant');
SELECT throws_ok($$SELECT allot.set_limit('taprole:k1', 10)$$, '42501', NULL,
                 'a member of allot_client cannot set_limit (42501)');
SELECT throws_ok($$SELECT allot.rollup()$$, '42501', NULL,
                 'a member of allot_client cannot run rollup (42501)');
SELECT throws_ok($$SELECT * FROM allot.events$$, '42501', NULL,
                 'a member of allot_client cannot SELECT allot.events (42501)');
SELECT throws_ok($$UPDATE allot.counters SET used = 0$$, '42501', NULL,
                 'a member of allot_client cannot UPDATE allot.counters (42501)');
RESET ROLE;

SET ROLE allot_tap_admin;
SELECT lives_ok($$SELECT allot.set_limit('taprole:k2', 3)$$,
                'a member of allot_admin sets a limit');
SELECT lives_ok($$SELECT * FROM allot.rollup()$$,
                'a member of allot_admin runs rollup');
SELECT throws_ok($$DELETE FROM allot.events$$, '42501', NULL,
                 'a member of allot_admin cannot DELETE allot.events (42501)');
RESET ROLE;

SET ROLE allot_tap_auditor;
SELECT lives_ok($$SELECT * FROM allot.events$$, 'a member of allot_auditor reads allot.events');
SELECT lives_ok($$SELECT * FROM allot.usage$$, 'a member of allot_auditor reads allot.usage');
SELECT lives_ok($$SELECT * FROM allot.violations$$, 'a member of allot_auditor reads allot.violations');
SELECT lives_ok($$SELECT * FROM allot.stats$$, 'a member of allot_auditor reads allot.stats');
SELECT lives_ok($$SELECT * FROM allot.verify()$$, 'a member of allot_auditor runs verify()');
SELECT throws_ok($$SELECT allot.redeem('00000000-0000-0000-0000-00000000c002', ARRAY['taprole:k1'])$$,
                 '42501', NULL, 'a member of allot_auditor cannot redeem (42501)');
SELECT throws_ok($$UPDATE allot.events SET amount = 0$$, '42501', NULL,
                 'a member of allot_auditor cannot UPDATE allot.events (42501)');
SELECT throws_ok($$DELETE FROM allot.events$$, '42501', NULL,
                 'a member of allot_auditor cannot DELETE allot.events (42501)');
RESET ROLE;

SET ROLE allot_tap_nobody;
SELECT throws_ok($$SELECT allot.redeem('00000000-0000-0000-0000-00000000c003', ARRAY['taprole:k1'])$$,
                 '42501', NULL, 'a role without allot_* cannot redeem (42501)');
SELECT throws_ok($$SELECT * FROM allot.usage$$, '42501', NULL,
                 'a role without allot_* cannot read allot.usage (42501)');
RESET ROLE;

SELECT is((SELECT count(*) FROM allot.events WHERE txn = '00000000-0000-0000-0000-00000000c001'),
          2::bigint, 'the client''s grant and reversal are in the log; denied calls left nothing');

-- Least privilege, object by object ---------------------------------------------------
-- What each role may run, exactly. (The auditor's internal functions are
-- what the views it reads call; none of them writes.)
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc p
                 WHERE p.pronamespace = 'allot'::regnamespace
                   AND pg_catalog.has_function_privilege(r, p.oid, 'EXECUTE')
                 ORDER BY 1),
          want,
          r || ' may execute ' || coalesce('exactly ' || nullif(pg_catalog.array_to_string(want, ', '), ''), 'nothing')
            || ' in allot')
  FROM (VALUES
    ('allot_client', ARRAY['allot.can_redeem(text[],bigint)', 'allot.redeem(uuid,text[],bigint)',
                           'allot.redeem_many(jsonb)', 'allot.reverse(uuid,text)']),
    ('allot_auditor', ARRAY['allot._current_window(interval,boolean,tstzrange,timestamp with time zone)',
                            'allot._now()', 'allot._preloaded()', 'allot._shared_keys()', 'allot._stats()',
                            'allot.verify()']),
    ('public', ARRAY[]::text[])) AS t(r, want);

SELECT is_empty($$
  SELECT c.oid::regclass::text || ' ' || p.priv
    FROM pg_catalog.pg_class c,
         unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) AS p(priv)
   WHERE c.relnamespace = 'allot'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
     AND pg_catalog.has_table_privilege('allot_client', c.oid, p.priv)
$$, 'allot_client has no privilege on any table or view in allot: it cannot change limits or touch the log but through the functions');

SELECT is_empty($$
  SELECT c.oid::regclass::text || ' ' || p.priv
    FROM pg_catalog.pg_class c,
         unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) AS p(priv)
   WHERE c.relnamespace = 'allot'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p', 'f', 'S')
     AND pg_catalog.has_table_privilege('allot_auditor', c.oid, p.priv)
  UNION ALL
  SELECT c.oid::regclass::text || ' ' || p.priv
    FROM pg_catalog.pg_class c, unnest(ARRAY['USAGE', 'UPDATE']) AS p(priv)
   WHERE c.relnamespace = 'allot'::regnamespace AND c.relkind = 'S'
     AND pg_catalog.has_sequence_privilege('allot_auditor', c.oid, p.priv)
$$, 'allot_auditor can only read: no write privilege on any table, view or sequence in allot');

SELECT is_empty($$
  SELECT t.oid::regtype::text
    FROM pg_catalog.pg_type t
   WHERE t.typnamespace = 'allot'::regnamespace
     AND EXISTS (SELECT 1 FROM pg_catalog.aclexplode(coalesce(t.typacl, pg_catalog.acldefault('T', t.typowner))) a
                  WHERE a.grantee = 0)
     -- an array type has its element's privileges; a table's row type its table's
     AND t.typcategory <> 'A'
     AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c')
$$, 'PUBLIC has no USAGE on the types in allot (decision, item_decision)');

-- Every role there is, and PUBLIC: only the owner (and superusers, who
-- bypass privileges, and the predefined pg_write_all_data, which a
-- superuser grants to say just that) may change the audit log or any
-- other table in allot.
CREATE FUNCTION pg_temp.writers() RETURNS SETOF text LANGUAGE sql AS $$
  SELECT r.rolname || ' may ' || p.priv || ' ' || c.oid::regclass::text
    FROM pg_catalog.pg_class c,
         (SELECT oid, rolname FROM pg_catalog.pg_roles
           WHERE NOT rolsuper AND rolname <> 'pg_write_all_data'
          UNION ALL SELECT 0, 'public') AS r,
         unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p(priv)
   WHERE c.relnamespace = 'allot'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
     AND r.oid <> c.relowner
     AND pg_catalog.has_table_privilege(CASE WHEN r.oid = 0 THEN 'public' ELSE r.rolname END, c.oid, p.priv)
$$;
SELECT is_empty('SELECT * FROM pg_temp.writers()',
                'no role but the owner may INSERT, UPDATE, DELETE or TRUNCATE any table in allot (events included)');

-- The installing role's default privileges do not reach the extension's
-- objects, nor the archive partitions created later, nor PUBLIC's defaults.
CREATE ROLE allot_tap_snoop NOLOGIN;
ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO allot_tap_snoop, allot_client, allot_auditor;
ALTER DEFAULT PRIVILEGES GRANT ALL ON SEQUENCES TO allot_tap_snoop;
ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO allot_tap_snoop;
ALTER DEFAULT PRIVILEGES GRANT USAGE ON TYPES TO allot_tap_snoop;
SET LOCAL client_min_messages = warning;
DROP EXTENSION pg_allot CASCADE;
CREATE EXTENSION pg_allot;
RESET client_min_messages;
SET LOCAL allot.clock_override = '2026-01-05 10:00:00+00';
SELECT allot.set_limit('taprole:k3', 5) > 0 AS limit_set;
SELECT (allot.redeem('00000000-0000-0000-0000-00000000c004', ARRAY['taprole:k3'])).granted AS granted;
SELECT count(*) >= 0 AS rolled_up FROM allot.rollup();
SET LOCAL allot.clock_override = '2026-02-05 10:00:00+00';
SELECT is(allot.archive_events('7 days'), 1::bigint,
          'with default privileges in place, archive_events moves the grant to a new day partition');
SELECT is_empty($$
  SELECT pg_catalog.pg_describe_object(o.classid, o.objid, 0)
    FROM (SELECT 'pg_catalog.pg_class'::regclass AS classid, c.oid AS objid, c.relacl AS acl
            FROM pg_catalog.pg_class c WHERE c.relnamespace = 'allot'::regnamespace
          UNION ALL
          SELECT 'pg_catalog.pg_proc'::regclass, p.oid, p.proacl
            FROM pg_catalog.pg_proc p WHERE p.pronamespace = 'allot'::regnamespace
          UNION ALL
          SELECT 'pg_catalog.pg_type'::regclass, t.oid, t.typacl
            FROM pg_catalog.pg_type t WHERE t.typnamespace = 'allot'::regnamespace) o,
         pg_catalog.aclexplode(o.acl) a
   WHERE a.grantee = 'allot_tap_snoop'::regrole
$$, 'the installing role''s default privileges give nothing on any table, partition, sequence, function or type in allot');
SELECT is_empty('SELECT * FROM pg_temp.writers()',
                'with those default privileges too, no role but the owner may change any table in allot (the new partition included)');
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc p
                 WHERE p.pronamespace = 'allot'::regnamespace
                   AND pg_catalog.has_function_privilege('allot_client', p.oid, 'EXECUTE')
                 ORDER BY 1),
          ARRAY['allot.can_redeem(text[],bigint)', 'allot.redeem(uuid,text[],bigint)',
                'allot.redeem_many(jsonb)', 'allot.reverse(uuid,text)'],
          'with those default privileges too, allot_client may execute exactly redeem, redeem_many, can_redeem and reverse');

SELECT * FROM finish();
ROLLBACK;
