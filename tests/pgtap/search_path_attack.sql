-- search_path attacks on the install script and the SECURITY DEFINER
-- functions, by roles that hold allot_client / allot_admin / allot_auditor
-- and nothing else. (security.sql checks the catalog side: every SECURITY
-- DEFINER function pins search_path, nothing lives in public, and a decoy
-- table does not redirect a superuser's redeem; roles.sql checks that
-- PUBLIC gets nothing. This file adds the attacks themselves.)
--
-- Each attacker fills a schema it owns, put first on its search_path, with
-- look-alikes of what the extension uses: built-in functions (now,
-- clock_timestamp, current_setting, lower, length, jsonb_array_elements,
-- unnest, gen_random_uuid, date_trunc, ...), aggregates (count, sum, max,
-- min), operators on the built-in types (text = text, ||, bigint + - < <=
-- > >= =, uuid =, timestamptz - interval, tstzrange @> timestamptz, jsonb
-- -> ->>), and relations and types named like the extension's (events,
-- limits, counters, txns, entity_state, ... decision); and pg_temp with
-- temp views named like the extension's tables and like the built-in types
-- (text, uuid, jsonb, timestamptz, tstzrange). Every look-alike records in
-- a hit table who ran it (current_user) and during which step, and then
-- behaves like the real thing.
--
-- Properties: the traps are live (a control step trips them); every API
-- call returns exactly what it returns with a clean search_path; no
-- look-alike runs during an API call, and none ever runs with another
-- role's rights (the extension owner's above all); CREATE EXTENSION under a
-- hostile search_path (look-alikes in public, path "public, pg_catalog")
-- runs none of them, puts nothing in public, binds nothing outside
-- pg_catalog and allot, grants PUBLIC nothing, and yields a working
-- extension; and CREATE EXTENSION does not settle into a schema "allot"
-- that another role created beforehand (whose owner could later swap the
-- extension's tables for its own), nor into one where another role may
-- create objects or that holds objects already: it fails with 42P06 and a
-- message naming the problem.
--
-- The rollup worker (with the preload) runs as the bootstrap superuser and
-- starts with the database's settings. First, outside the test
-- transaction (the worker sees only committed objects and settings), a
-- role that may only create objects in public puts look-alikes of
-- clock_timestamp(), text = text, count(*) and unnest(text[]) there, the
-- database's search_path is set to "public, pg_catalog", the worker is
-- restarted and watched for some rounds: none of them may run. Everything
-- made for that is removed right after the wait. Then the same for the
-- functions the worker and the views call (allot._now() above all): the
-- extension owner reading the views with look-alikes first on its path
-- runs none of them, and every such function pins its search_path.
--
-- Run: pg_prove -h HOST -p PORT -U postgres -d DB tests/pgtap/search_path_attack.sql

-------------------------------------------------------------------------------
-- The rollup worker under a hostile database search_path (outside the test
-- transaction; its results are asserted below).
-------------------------------------------------------------------------------
SET client_min_messages = warning;
CREATE TEMP TABLE tap_sp_worker (what text PRIMARY KEY, value text);

-- Leftovers of an interrupted run.
DO $clean$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'tap_sp_worker_attacker') THEN
    EXECUTE pg_catalog.format('ALTER DATABASE %I RESET search_path', pg_catalog.current_database());
    DROP OWNED BY tap_sp_worker_attacker;
    DROP ROLE tap_sp_worker_attacker;
  END IF;
END
$clean$;

SELECT NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_allot') AS tap_sp_install,
       NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'allot') AS tap_sp_no_schema \gset
\if :tap_sp_install
CREATE EXTENSION pg_allot;
\endif
SELECT allot._preloaded() AS tap_sp_preloaded \gset
INSERT INTO tap_sp_worker VALUES ('preloaded', :'tap_sp_preloaded'::boolean::text);
\if :tap_sp_preloaded
-- The attacker's look-alikes; each runs the trap, which counts its runs in
-- sequences (they count even when the worker's transaction rolls back),
-- and then does what the real thing does. A real attacker would make
-- itself superuser where the trap notices it runs as one.
DO $plant$
DECLARE
  saved_path text := pg_catalog.current_setting('search_path');
  control_runs bigint;
  control_super bigint;
BEGIN
  CREATE ROLE tap_sp_worker_attacker NOLOGIN;
  GRANT CREATE ON SCHEMA public TO tap_sp_worker_attacker;
  SET LOCAL ROLE tap_sp_worker_attacker;
  CREATE SEQUENCE public.tap_sp_trap_runs;
  CREATE SEQUENCE public.tap_sp_trap_superuser_runs;
  GRANT USAGE ON SEQUENCE public.tap_sp_trap_runs, public.tap_sp_trap_superuser_runs TO PUBLIC;
  CREATE FUNCTION public.tap_sp_trap() RETURNS void LANGUAGE plpgsql AS $f$
  BEGIN
    PERFORM pg_catalog.nextval('public.tap_sp_trap_runs'::pg_catalog.regclass);
    IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER) THEN
      PERFORM pg_catalog.nextval('public.tap_sp_trap_superuser_runs'::pg_catalog.regclass);
    END IF;
  END $f$;
  CREATE FUNCTION public.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql AS $f$
  BEGIN PERFORM public.tap_sp_trap(); RETURN pg_catalog.clock_timestamp(); END $f$;
  CREATE FUNCTION public.tap_sp_texteq(pg_catalog.text, pg_catalog.text) RETURNS boolean LANGUAGE plpgsql AS $f$
  BEGIN PERFORM public.tap_sp_trap(); RETURN pg_catalog.texteq($1, $2); END $f$;
  CREATE OPERATOR public.= (LEFTARG = pg_catalog.text, RIGHTARG = pg_catalog.text, FUNCTION = public.tap_sp_texteq);
  CREATE FUNCTION public.tap_sp_count(bigint) RETURNS bigint LANGUAGE plpgsql AS $f$
  BEGIN PERFORM public.tap_sp_trap(); RETURN pg_catalog.int8inc($1); END $f$;
  CREATE AGGREGATE public.count(*) (SFUNC = public.tap_sp_count, STYPE = bigint, INITCOND = '0');
  CREATE FUNCTION public.unnest(pg_catalog.text[]) RETURNS SETOF pg_catalog.text LANGUAGE plpgsql AS $f$
  BEGIN PERFORM public.tap_sp_trap(); RETURN QUERY SELECT pg_catalog.unnest($1); END $f$;
  RESET ROLE;
  -- control: with public first, an unqualified call, operator and
  -- aggregate run the look-alikes (here as superuser)
  PERFORM pg_catalog.set_config('search_path', 'public, pg_catalog', true);
  EXECUTE $q$SELECT clock_timestamp(), 'a'::text = 'b', (SELECT count(*) FROM unnest('{x}'::text[]))$q$;
  PERFORM pg_catalog.set_config('search_path', saved_path, true);
  SELECT last_value INTO control_runs FROM public.tap_sp_trap_runs;
  SELECT last_value INTO control_super FROM public.tap_sp_trap_superuser_runs;
  INSERT INTO pg_temp.tap_sp_worker VALUES ('control runs', control_runs::text),
                                           ('control superuser runs', control_super::text);
  PERFORM pg_catalog.setval('public.tap_sp_trap_runs', 1, false);
  PERFORM pg_catalog.setval('public.tap_sp_trap_superuser_runs', 1, false);
  -- a limit, so that each round of the worker reads one
  PERFORM allot.set_limit('tapspw:*', 5);
  EXECUTE pg_catalog.format('ALTER DATABASE %I SET search_path = public, pg_catalog', pg_catalog.current_database());
END
$plant$;
-- A fold brings a worker up if the launcher had let this database idle.
SELECT count(*) >= 0 AS folded FROM allot.rollup();
-- Restart the worker (it reads the database's settings when it starts),
-- then wait for the new one and for at least three of its rounds.
DO $wait$
DECLARE
  old_pid  integer;
  new_pid  integer;
  start    bigint;
  rounds   bigint := 0;
  deadline timestamptz := pg_catalog.clock_timestamp() + interval '60 seconds';
BEGIN
  BEGIN
    SELECT a.pid INTO old_pid FROM pg_catalog.pg_stat_activity a
     WHERE a.backend_type = 'pg_allot rollup' AND a.datname = pg_catalog.current_database();
    IF old_pid IS NOT NULL THEN
      PERFORM pg_catalog.pg_terminate_backend(old_pid);
    END IF;
    LOOP
      PERFORM pg_catalog.pg_stat_clear_snapshot();
      SELECT a.pid INTO new_pid FROM pg_catalog.pg_stat_activity a
       WHERE a.backend_type = 'pg_allot rollup' AND a.datname = pg_catalog.current_database()
         AND a.pid IS DISTINCT FROM old_pid;
      EXIT WHEN new_pid IS NOT NULL OR pg_catalog.clock_timestamp() > deadline;
      PERFORM pg_catalog.pg_sleep(0.05);
    END LOOP;
    SELECT r.rollups INTO start FROM allot.rollup_state r;
    WHILE new_pid IS NOT NULL AND rounds < 3 AND pg_catalog.clock_timestamp() < deadline LOOP
      PERFORM pg_catalog.pg_sleep(0.05);
      SELECT r.rollups - start INTO rounds FROM allot.rollup_state r;
      EXIT WHEN (SELECT s.is_called FROM public.tap_sp_trap_runs s);
    END LOOP;
    INSERT INTO pg_temp.tap_sp_worker VALUES ('new worker', (new_pid IS NOT NULL)::text), ('rounds', rounds::text);
  EXCEPTION WHEN OTHERS THEN
    INSERT INTO pg_temp.tap_sp_worker VALUES ('wait failed', SQLERRM);
  END;
END
$wait$;
INSERT INTO tap_sp_worker
SELECT 'worker runs', CASE WHEN s.is_called THEN s.last_value ELSE 0 END::text FROM public.tap_sp_trap_runs s
UNION ALL
SELECT 'worker superuser runs', CASE WHEN s.is_called THEN s.last_value ELSE 0 END::text
  FROM public.tap_sp_trap_superuser_runs s;
-- Clean up at once, and restart the worker with the database's own settings.
DO $clean$
BEGIN
  EXECUTE pg_catalog.format('ALTER DATABASE %I RESET search_path', pg_catalog.current_database());
  DROP OWNED BY tap_sp_worker_attacker;
  DROP ROLE tap_sp_worker_attacker;
  PERFORM allot.drop_limit('tapspw:*');
  PERFORM pg_catalog.pg_terminate_backend(a.pid) FROM pg_catalog.pg_stat_activity a
    WHERE a.backend_type = 'pg_allot rollup' AND a.datname = pg_catalog.current_database();
END
$clean$;
\endif
\if :tap_sp_install
DROP EXTENSION pg_allot;
\endif
\if :tap_sp_no_schema
DROP SCHEMA IF EXISTS allot;  -- what CREATE EXTENSION made and DROP EXTENSION leaves
\endif
RESET client_min_messages;

BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS pg_allot;
SET LOCAL client_min_messages = warning;

SELECT plan(22);

-------------------------------------------------------------------------------
-- The rollup worker: it never resolves a name through the database's
-- search_path (checked above).
-------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.worker(p_what text) RETURNS text LANGUAGE sql AS
  $$ SELECT w.value FROM pg_temp.tap_sp_worker w WHERE w.what = p_what $$;

SELECT CASE WHEN pg_temp.worker('preloaded') = 'true' THEN
         is(pg_temp.worker('control runs') || ' ' || pg_temp.worker('control superuser runs'), '4 4',
            'worker control: the look-alikes planted in public are live (with public first on the path, clock_timestamp(), text = text, count(*) and unnest(text[]) run them) and notice a superuser')
       ELSE skip('the rollup worker needs shared_preload_libraries = pg_allot', 1) END;
SELECT CASE WHEN pg_temp.worker('preloaded') = 'true' THEN
         ok(pg_temp.worker('new worker') = 'true'
            AND (pg_temp.worker('rounds')::int >= 3 OR pg_temp.worker('worker runs')::int > 0),
            'a rollup worker started with the database search_path set to "public, pg_catalog" and was watched at work ('
            || coalesce(pg_temp.worker('rounds') || ' rounds', pg_temp.worker('wait failed'), '?') || ')')
       ELSE skip('the rollup worker needs shared_preload_libraries = pg_allot', 1) END;
SELECT CASE WHEN pg_temp.worker('preloaded') = 'true' THEN
         is(pg_temp.worker('worker runs') || ' ' || pg_temp.worker('worker superuser runs'), '0 0',
            'the rollup worker (a superuser) ran none of the look-alikes a role that may create in public put there (runs, as superuser)')
       ELSE skip('the rollup worker needs shared_preload_libraries = pg_allot', 1) END;

-------------------------------------------------------------------------------
-- Attackers, their schemas, and the tables the traps and the steps write to.
-------------------------------------------------------------------------------
CREATE ROLE tap_sp_client NOLOGIN IN ROLE allot_client;
CREATE ROLE tap_sp_admin NOLOGIN IN ROLE allot_admin;
CREATE ROLE tap_sp_auditor NOLOGIN IN ROLE allot_auditor;
CREATE SCHEMA tap_sp_c AUTHORIZATION tap_sp_client;
CREATE SCHEMA tap_sp_a AUTHORIZATION tap_sp_admin;
CREATE SCHEMA tap_sp_u AUTHORIZATION tap_sp_auditor;

CREATE TEMP TABLE tap_sp_hits (id bigserial, phase text, what text, who text);
CREATE TEMP TABLE tap_sp_results (id bigserial, mode text, phase text, state text, msg text, result text);
GRANT ALL ON tap_sp_hits, tap_sp_results TO PUBLIC;
GRANT ALL ON SEQUENCE tap_sp_hits_id_seq, tap_sp_results_id_seq TO PUBLIC;

-- Plants the look-alikes in schema s, owned by the current role.
CREATE FUNCTION pg_temp.plant(s pg_catalog.text) RETURNS void LANGUAGE plpgsql AS $plant$
DECLARE
  f record;
BEGIN
  EXECUTE pg_catalog.format($x$
    CREATE FUNCTION %1$I.hit(what pg_catalog.text) RETURNS void LANGUAGE plpgsql AS $b$
    BEGIN
      INSERT INTO pg_temp.tap_sp_hits (phase, what, who)
      VALUES (pg_catalog.current_setting('tap_sp.phase', true), what, CURRENT_USER::pg_catalog.text);
    END $b$$x$, s);
  EXECUTE pg_catalog.format($x$
    CREATE FUNCTION %1$I.hit_rows(what pg_catalog.text) RETURNS TABLE (x pg_catalog.int4) LANGUAGE plpgsql AS $b$
    BEGIN
      PERFORM %1$I.hit(what);
    END $b$$x$, s);
  -- functions: name(arguments), result, the real thing
  FOR f IN SELECT * FROM (VALUES
      ('now()', 'timestamptz', 'pg_catalog.now()'),
      ('clock_timestamp()', 'timestamptz', 'pg_catalog.clock_timestamp()'),
      ('statement_timestamp()', 'timestamptz', 'pg_catalog.statement_timestamp()'),
      ('transaction_timestamp()', 'timestamptz', 'pg_catalog.transaction_timestamp()'),
      ('current_setting(text)', 'text', 'pg_catalog.current_setting($1)'),
      ('current_setting(text, boolean)', 'text', 'pg_catalog.current_setting($1, $2)'),
      ('gen_random_uuid()', 'uuid', 'pg_catalog.gen_random_uuid()'),
      ('lower(text)', 'text', 'pg_catalog.lower($1)'),
      ('upper(text)', 'text', 'pg_catalog.upper($1)'),
      ('length(text)', 'integer', 'pg_catalog.length($1)'),
      ('octet_length(text)', 'integer', 'pg_catalog.octet_length($1)'),
      ('md5(text)', 'text', 'pg_catalog.md5($1)'),
      ('btrim(text)', 'text', 'pg_catalog.btrim($1)'),
      ('lower(tstzrange)', 'timestamptz', 'pg_catalog.lower($1)'),
      ('upper(tstzrange)', 'timestamptz', 'pg_catalog.upper($1)'),
      ('isempty(tstzrange)', 'boolean', 'pg_catalog.isempty($1)'),
      ('lower_inf(tstzrange)', 'boolean', 'pg_catalog.lower_inf($1)'),
      ('upper_inf(tstzrange)', 'boolean', 'pg_catalog.upper_inf($1)'),
      ('jsonb_array_length(jsonb)', 'integer', 'pg_catalog.jsonb_array_length($1)'),
      ('jsonb_typeof(jsonb)', 'text', 'pg_catalog.jsonb_typeof($1)'),
      ('date_trunc(text, timestamptz)', 'timestamptz', 'pg_catalog.date_trunc($1, $2)'),
      ('date_trunc(text, timestamptz, text)', 'timestamptz', 'pg_catalog.date_trunc($1, $2, $3)'),
      ('date_part(text, timestamptz)', 'double precision', 'pg_catalog.date_part($1, $2)'),
      ('to_char(timestamptz, text)', 'text', 'pg_catalog.to_char($1, $2)'),
      ('regexp_replace(text, text, text)', 'text', 'pg_catalog.regexp_replace($1, $2, $3)'),
      ('regexp_match(text, text)', 'text[]', 'pg_catalog.regexp_match($1, $2)'),
      ('quote_ident(text)', 'text', 'pg_catalog.quote_ident($1)'),
      ('to_regclass(text)', 'regclass', 'pg_catalog.to_regclass($1)'),
      ('cardinality(text[])', 'integer', 'pg_catalog.cardinality($1)'),
      ('array_length(text[], integer)', 'integer', 'pg_catalog.array_length($1, $2)'),
      ('exp(double precision)', 'double precision', 'pg_catalog.exp($1)'),
      ('abs(bigint)', 'bigint', 'pg_catalog.abs($1)'),
      ('to_jsonb(text)', 'jsonb', 'pg_catalog.to_jsonb($1)'),
      ('pg_get_expr(pg_node_tree, oid)', 'text', 'pg_catalog.pg_get_expr($1, $2)'),
      -- for the operators below
      ('op_text_eq(text, text)', 'boolean', 'pg_catalog.texteq($1, $2)'),
      ('op_text_ne(text, text)', 'boolean', 'pg_catalog.textne($1, $2)'),
      ('op_text_cat(text, text)', 'text', 'pg_catalog.textcat($1, $2)'),
      ('op_int8_eq(bigint, bigint)', 'boolean', 'pg_catalog.int8eq($1, $2)'),
      ('op_int8_pl(bigint, bigint)', 'bigint', 'pg_catalog.int8pl($1, $2)'),
      ('op_int8_mi(bigint, bigint)', 'bigint', 'pg_catalog.int8mi($1, $2)'),
      ('op_int8_lt(bigint, bigint)', 'boolean', 'pg_catalog.int8lt($1, $2)'),
      ('op_int8_le(bigint, bigint)', 'boolean', 'pg_catalog.int8le($1, $2)'),
      ('op_int8_gt(bigint, bigint)', 'boolean', 'pg_catalog.int8gt($1, $2)'),
      ('op_int8_ge(bigint, bigint)', 'boolean', 'pg_catalog.int8ge($1, $2)'),
      ('op_uuid_eq(uuid, uuid)', 'boolean', 'pg_catalog.uuid_eq($1, $2)'),
      ('op_bool_eq(boolean, boolean)', 'boolean', 'pg_catalog.booleq($1, $2)'),
      ('op_ts_mi_iv(timestamptz, interval)', 'timestamptz', 'pg_catalog.timestamptz_mi_interval($1, $2)'),
      ('op_ts_mi_ts(timestamptz, timestamptz)', 'interval', 'pg_catalog.timestamptz_mi($1, $2)'),
      ('op_ts_lt(timestamptz, timestamptz)', 'boolean', 'pg_catalog.timestamptz_lt($1, $2)'),
      ('op_ts_ge(timestamptz, timestamptz)', 'boolean', 'pg_catalog.timestamptz_ge($1, $2)'),
      ('op_range_contains(tstzrange, timestamptz)', 'boolean', 'pg_catalog.range_contains_elem($1, $2)'),
      ('op_jsonb_field(jsonb, text)', 'jsonb', 'pg_catalog.jsonb_object_field($1, $2)'),
      ('op_jsonb_field_text(jsonb, text)', 'text', 'pg_catalog.jsonb_object_field_text($1, $2)'),
      ('op_jsonb_elem_text(jsonb, integer)', 'text', 'pg_catalog.jsonb_array_element_text($1, $2)'),
      ('op_interval_lt(interval, interval)', 'boolean', 'pg_catalog.interval_lt($1, $2)'),
      -- transition functions of the aggregates below
      ('agg_count(bigint)', 'bigint', 'pg_catalog.int8inc($1)'),
      ('agg_sum(numeric, bigint)', 'numeric', 'pg_catalog.numeric_add(coalesce($1, 0), $2::pg_catalog.numeric)'),
      ('agg_max(bigint, bigint)', 'bigint', 'pg_catalog.int8larger($1, $2)'),
      ('agg_min(bigint, bigint)', 'bigint', 'pg_catalog.int8smaller($1, $2)')
    ) AS t(sig, result, body)
  LOOP
    EXECUTE pg_catalog.format(
      'CREATE FUNCTION %1$I.%2$s RETURNS %3$s LANGUAGE plpgsql AS $b$ BEGIN PERFORM %1$I.hit(%4$L); RETURN %5$s; END $b$',
      s, f.sig, f.result, f.sig, f.body);
  END LOOP;
  -- set-returning look-alikes
  FOR f IN SELECT * FROM (VALUES
      ('jsonb_array_elements(jsonb)', 'jsonb', 'pg_catalog.jsonb_array_elements($1)'),
      ('unnest(text[])', 'text', 'pg_catalog.unnest($1)'),
      ('unnest(bigint[])', 'bigint', 'pg_catalog.unnest($1)'),
      ('unnest(uuid[])', 'uuid', 'pg_catalog.unnest($1)'),
      ('unnest(timestamptz[])', 'timestamptz', 'pg_catalog.unnest($1)'),
      ('unnest(double precision[])', 'double precision', 'pg_catalog.unnest($1)'),
      ('generate_series(integer, integer)', 'integer', 'pg_catalog.generate_series($1, $2)')
    ) AS t(sig, result, body)
  LOOP
    EXECUTE pg_catalog.format(
      'CREATE FUNCTION %1$I.%2$s RETURNS SETOF %3$s LANGUAGE plpgsql AS $b$ BEGIN PERFORM %1$I.hit(%4$L); RETURN QUERY SELECT %5$s; END $b$',
      s, f.sig, f.result, f.sig, f.body);
  END LOOP;
  -- aggregates
  EXECUTE pg_catalog.format('CREATE AGGREGATE %1$I.count(*) (SFUNC = %1$I.agg_count, STYPE = bigint, INITCOND = ''0'')', s);
  EXECUTE pg_catalog.format('CREATE AGGREGATE %1$I.sum(bigint) (SFUNC = %1$I.agg_sum, STYPE = numeric)', s);
  EXECUTE pg_catalog.format('CREATE AGGREGATE %1$I.max(bigint) (SFUNC = %1$I.agg_max, STYPE = bigint)', s);
  EXECUTE pg_catalog.format('CREATE AGGREGATE %1$I.min(bigint) (SFUNC = %1$I.agg_min, STYPE = bigint)', s);
  -- operators on the built-in types
  FOR f IN SELECT * FROM (VALUES
      ('=', 'text', 'text', 'op_text_eq'), ('<>', 'text', 'text', 'op_text_ne'), ('||', 'text', 'text', 'op_text_cat'),
      ('=', 'bigint', 'bigint', 'op_int8_eq'), ('+', 'bigint', 'bigint', 'op_int8_pl'), ('-', 'bigint', 'bigint', 'op_int8_mi'),
      ('<', 'bigint', 'bigint', 'op_int8_lt'), ('<=', 'bigint', 'bigint', 'op_int8_le'),
      ('>', 'bigint', 'bigint', 'op_int8_gt'), ('>=', 'bigint', 'bigint', 'op_int8_ge'),
      ('=', 'uuid', 'uuid', 'op_uuid_eq'), ('=', 'boolean', 'boolean', 'op_bool_eq'),
      ('-', 'timestamptz', 'interval', 'op_ts_mi_iv'), ('-', 'timestamptz', 'timestamptz', 'op_ts_mi_ts'),
      ('<', 'timestamptz', 'timestamptz', 'op_ts_lt'), ('>=', 'timestamptz', 'timestamptz', 'op_ts_ge'),
      ('@>', 'tstzrange', 'timestamptz', 'op_range_contains'),
      ('->', 'jsonb', 'text', 'op_jsonb_field'), ('->>', 'jsonb', 'text', 'op_jsonb_field_text'),
      ('->>', 'jsonb', 'integer', 'op_jsonb_elem_text'), ('<', 'interval', 'interval', 'op_interval_lt')
    ) AS t(op, l, r, fn)
  LOOP
    EXECUTE pg_catalog.format('CREATE OPERATOR %1$I.%2$s (LEFTARG = %3$s, RIGHTARG = %4$s, FUNCTION = %1$I.%5$I)',
                              s, f.op, f.l, f.r, f.fn);
  END LOOP;
  -- relations and types named like the extension's
  FOR f IN SELECT * FROM unnest(ARRAY['events', 'limits', 'counters', 'txns', 'entity_state', 'key_activity',
                                      'rollup_state', 'events_archive', 'archived_usage', 'event_log', 'usage',
                                      'entities', 'violations', 'unfolded', 'stats']) AS t(rel)
  LOOP
    EXECUTE pg_catalog.format('CREATE VIEW %1$I.%2$I AS SELECT * FROM %1$I.hit_rows(%3$L)', s, f.rel, s || '.' || f.rel);
  END LOOP;
  EXECUTE pg_catalog.format('CREATE TYPE %1$I.decision AS (granted pg_catalog.text)', s);
  EXECUTE pg_catalog.format('CREATE TYPE %1$I.item_decision AS (idx pg_catalog.text)', s);
  IF s <> 'public' THEN
    EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA %1$I TO PUBLIC', s);
    EXECUTE pg_catalog.format('GRANT SELECT ON ALL TABLES IN SCHEMA %1$I TO PUBLIC', s);
  END IF;
END
$plant$;

-- Temp views in pg_temp named like the extension's tables and like the
-- built-in types (a relation's row type shadows a type of the same name
-- where pg_temp is searched first). trap_schema holds hit_rows().
CREATE FUNCTION pg_temp.plant_temp(trap_schema pg_catalog.text) RETURNS void LANGUAGE plpgsql AS $plant$
DECLARE
  rel pg_catalog.text;
BEGIN
  FOREACH rel IN ARRAY ARRAY['events', 'limits', 'counters', 'txns', 'entity_state', 'key_activity', 'rollup_state',
                             'usage', 'entities', 'unfolded', 'text', 'uuid', 'jsonb', 'timestamptz', 'tstzrange']
  LOOP
    EXECUTE pg_catalog.format('CREATE TEMP VIEW %1$I AS SELECT * FROM %2$I.hit_rows(%3$L)', rel, trap_schema, 'pg_temp.' || rel);
  END LOOP;
END
$plant$;
CREATE FUNCTION pg_temp.unplant_temp() RETURNS void LANGUAGE plpgsql AS $plant$
DECLARE
  rel pg_catalog.text;
BEGIN
  FOREACH rel IN ARRAY ARRAY['events', 'limits', 'counters', 'txns', 'entity_state', 'key_activity', 'rollup_state',
                             'usage', 'entities', 'unfolded', 'text', 'uuid', 'jsonb', 'timestamptz', 'tstzrange']
  LOOP
    EXECUTE pg_catalog.format('DROP VIEW pg_temp.%I', rel);
  END LOOP;
END
$plant$;

-- Runs one step (sql returns one value; $1..$3 are the args, as text) and
-- records its result or its error. Everything in here is schema-qualified:
-- it runs under the hostile search_path without touching a trap.
CREATE FUNCTION pg_temp.sp_step(p_mode pg_catalog.text, p_phase pg_catalog.text, p_sql pg_catalog.text,
                                p_args pg_catalog.text[] DEFAULT '{}')
RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
  r pg_catalog.text;
BEGIN
  PERFORM pg_catalog.set_config('tap_sp.phase', p_phase, true);
  BEGIN
    IF p_sql LIKE 'CREATE %' THEN
      EXECUTE p_sql;
      r := 'done';
    ELSE
      EXECUTE p_sql INTO r USING p_args[1], p_args[2], p_args[3];
    END IF;
    INSERT INTO pg_temp.tap_sp_results (mode, phase, result) VALUES (p_mode, p_phase, r);
  EXCEPTION WHEN OTHERS THEN
    INSERT INTO pg_temp.tap_sp_results (mode, phase, state, msg) VALUES (p_mode, p_phase, SQLSTATE, SQLERRM);
  END;
  PERFORM pg_catalog.set_config('tap_sp.phase', '', true);
END
$f$;

-- The API calls of each role. Results are made independent of the key
-- prefix and of limit ids, so that a run with a clean search_path and a
-- run with a hostile one can be compared row by row.
CREATE FUNCTION pg_temp.client_steps(p_mode pg_catalog.text, p_prefix pg_catalog.text) RETURNS void
LANGUAGE plpgsql AS $f$
DECLARE
  k1 pg_catalog.text := pg_catalog.concat(p_prefix, ':1');
  k2 pg_catalog.text := pg_catalog.concat(p_prefix, ':2');
  k3 pg_catalog.text := pg_catalog.concat(p_prefix, ':3');
  t1 pg_catalog.text := pg_catalog.md5(pg_catalog.concat(p_prefix, 't1'));
  t2 pg_catalog.text := pg_catalog.md5(pg_catalog.concat(p_prefix, 't2'));
  t3 pg_catalog.text := pg_catalog.md5(pg_catalog.concat(p_prefix, 't3'));
  t4 pg_catalog.text := pg_catalog.md5(pg_catalog.concat(p_prefix, 't4'));
  decision pg_catalog.text := $q$SELECT ROW(d.granted, d.replayed, d.path, pg_catalog.cardinality(d.denied_keys),
                                           d.retry_after)::pg_catalog.text FROM $q$;
BEGIN
  PERFORM pg_temp.sp_step(p_mode, 'c01 redeem',
    pg_catalog.concat(decision, $q$allot.redeem($1::pg_catalog.uuid, ARRAY[$2, $3], 1) d$q$), ARRAY[t1, k1, k2]);
  PERFORM pg_temp.sp_step(p_mode, 'c02 redeem again: replay',
    pg_catalog.concat(decision, $q$allot.redeem($1::pg_catalog.uuid, ARRAY[$3, $2], 1) d$q$), ARRAY[t1, k1, k2]);
  PERFORM pg_temp.sp_step(p_mode, 'c03 redeem: denied',
    pg_catalog.concat(decision, $q$allot.redeem($1::pg_catalog.uuid, ARRAY[$2], 3) d$q$), ARRAY[t2, k1]);
  PERFORM pg_temp.sp_step(p_mode, 'c04 can_redeem',
    $q$SELECT pg_catalog.string_agg(ROW(c.allowed, c.remaining, c.retry_after)::pg_catalog.text, ';'
                                    ORDER BY c.remaining, c.allowed)
         FROM allot.can_redeem(ARRAY[$1, $2], 2) c$q$, ARRAY[k1, k2]);
  PERFORM pg_temp.sp_step(p_mode, 'c05 redeem_many',
    $q$SELECT pg_catalog.string_agg(ROW(m.idx, m.granted, m.replayed, m.path, m.error IS NULL)::pg_catalog.text, ';'
                                    ORDER BY m.idx)
         FROM allot.redeem_many($1::pg_catalog.jsonb) m$q$,
    ARRAY[pg_catalog.jsonb_build_array(
            pg_catalog.jsonb_build_object('txn', t3, 'keys', pg_catalog.jsonb_build_array(k3), 'amount', 2),
            pg_catalog.jsonb_build_object('txn', 'not-a-uuid', 'keys', pg_catalog.jsonb_build_array(k3)),
            pg_catalog.jsonb_build_object('txn', t1, 'keys', pg_catalog.jsonb_build_array(k2, k1)),
            pg_catalog.jsonb_build_object('txn', t4, 'keys', pg_catalog.jsonb_build_array(k3), 'amount', 2))::pg_catalog.text]);
  PERFORM pg_temp.sp_step(p_mode, 'c06 reverse',
    $q$SELECT allot.reverse($1::pg_catalog.uuid, 'changed my mind')::pg_catalog.text$q$, ARRAY[t1]);
  PERFORM pg_temp.sp_step(p_mode, 'c07 reverse again',
    $q$SELECT allot.reverse($1::pg_catalog.uuid)::pg_catalog.text$q$, ARRAY[t1]);
  PERFORM pg_temp.sp_step(p_mode, 'c08 redeem a reversed txn: replay',
    pg_catalog.concat(decision, $q$allot.redeem($1::pg_catalog.uuid, ARRAY[$2, $3], 1) d$q$), ARRAY[t1, k1, k2]);
  PERFORM pg_temp.sp_step(p_mode, 'c09 same txn, other keys: 23505',
    pg_catalog.concat(decision, $q$allot.redeem($1::pg_catalog.uuid, ARRAY[$2], 1) d$q$), ARRAY[t1, k1]);
  PERFORM pg_temp.sp_step(p_mode, 'c10 bad key: 22023',
    pg_catalog.concat(decision, $q$allot.redeem($1::pg_catalog.uuid, ARRAY['Bad:key'], 1) d$q$), ARRAY[t2]);
  PERFORM pg_temp.sp_step(p_mode, 'c11 after it all',
    $q$SELECT pg_catalog.string_agg(ROW(c.allowed, c.remaining)::pg_catalog.text, ';' ORDER BY c.remaining, c.allowed)
         FROM allot.can_redeem(ARRAY[$1, $2, $3], 1) c$q$, ARRAY[k1, k2, k3]);
END
$f$;

CREATE FUNCTION pg_temp.admin_steps(p_mode pg_catalog.text, p_prefix pg_catalog.text) RETURNS void
LANGUAGE plpgsql AS $f$
DECLARE
  scope pg_catalog.text := pg_catalog.concat(p_prefix, ':*');
  key pg_catalog.text := pg_catalog.concat(p_prefix, ':p1');
BEGIN
  PERFORM pg_temp.sp_step(p_mode, 'a01 set_limit',
    $q$SELECT (allot.set_limit($1, 7, '1 day') OPERATOR(pg_catalog.>) 0)::pg_catalog.text$q$, ARRAY[scope]);
  PERFORM pg_temp.sp_step(p_mode, 'a02 set_limit again: same limit',
    $q$SELECT (allot.set_limit($1, 9, '24 hours') OPERATOR(pg_catalog.=) allot.set_limit($1, 11, '1 day', false, '(,)', 'shadow'))::pg_catalog.text$q$,
    ARRAY[scope]);
  PERFORM pg_temp.sp_step(p_mode, 'a03 the limit as set',
    $q$SELECT ROW(l.max, l.per, l.sliding, l.valid, l.mode)::pg_catalog.text FROM allot.limits l
        WHERE l.scope OPERATOR(pg_catalog.=) $1::pg_catalog.text AND l.per IS NOT NULL$q$, ARRAY[scope]);
  PERFORM pg_temp.sp_step(p_mode, 'a04 drop_limit',
    $q$SELECT allot.drop_limit($1, '1 day')::pg_catalog.text$q$, ARRAY[scope]);
  PERFORM pg_temp.sp_step(p_mode, 'a05 set_path',
    $q$SELECT allot.set_path($1, 'slow')$q$, ARRAY[key]);
  PERFORM pg_temp.sp_step(p_mode, 'a06 rollup',
    $q$SELECT pg_catalog.count(*)::pg_catalog.text FROM allot.rollup()$q$);
  PERFORM pg_temp.sp_step(p_mode, 'a07 archive_events',
    $q$SELECT allot.archive_events('1000 years')::pg_catalog.text$q$);
  PERFORM pg_temp.sp_step(p_mode, 'a08 drop_archived_events',
    $q$SELECT pg_catalog.count(*)::pg_catalog.text FROM allot.drop_archived_events('1000 years')$q$);
  PERFORM pg_temp.sp_step(p_mode, 'a09 verify',
    $q$SELECT pg_catalog.count(*)::pg_catalog.text FROM allot.verify()$q$);
  PERFORM pg_temp.sp_step(p_mode, 'a10 redeem as admin',
    $q$SELECT (allot.redeem($1::pg_catalog.uuid, ARRAY[$2], 1)).granted::pg_catalog.text$q$,
    ARRAY[pg_catalog.md5(pg_catalog.concat(p_prefix, 'a10')), pg_catalog.concat(p_prefix, ':a10')]);
END
$f$;

-- (p_prefix: 'u' for allot_auditor, 'o' for the extension owner)
CREATE FUNCTION pg_temp.auditor_steps(p_mode pg_catalog.text, p_prefix pg_catalog.text DEFAULT 'u')
RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
  rel pg_catalog.text;
BEGIN
  FOREACH rel IN ARRAY ARRAY['usage', 'entities', 'violations', 'stats', 'txns', 'events', 'event_log',
                             'unfolded', 'limits', 'entity_state']
  LOOP
    PERFORM pg_temp.sp_step(p_mode, pg_catalog.concat(p_prefix, ' read allot.', rel),
      pg_catalog.format('SELECT (pg_catalog.count(*) OPERATOR(pg_catalog.>=) 0)::pg_catalog.text FROM allot.%I', rel));
  END LOOP;
  PERFORM pg_temp.sp_step(p_mode, pg_catalog.concat(p_prefix, ' verify()'),
    $q$SELECT (pg_catalog.count(*) OPERATOR(pg_catalog.>=) 0)::pg_catalog.text FROM allot.verify()$q$);
END
$f$;

-- Limits for both runs' keys (a total of 3 per key).
SELECT allot.set_limit(p || ':*', 3) IS NOT NULL AS limits_set
  FROM unnest(ARRAY['tapspn', 'tapspa', 'tapspr']) AS p;

-- The attackers plant their look-alikes.
SET ROLE tap_sp_client;
SET search_path = pg_catalog;
SELECT pg_temp.plant('tap_sp_c');
RESET ROLE;
SET ROLE tap_sp_admin;
SELECT pg_temp.plant('tap_sp_a');
RESET ROLE;
SET ROLE tap_sp_auditor;
SELECT pg_temp.plant('tap_sp_u');
RESET ROLE;
RESET search_path;

-------------------------------------------------------------------------------
-- The calls with a clean search_path (keys tapspn:*) ...
-------------------------------------------------------------------------------
SET ROLE tap_sp_client;
SET search_path = pg_catalog, public;
SELECT pg_temp.client_steps('clean', 'tapspn');
RESET ROLE;
SET ROLE tap_sp_admin;
SELECT pg_temp.admin_steps('clean', 'tapspn');
RESET ROLE;
SET ROLE tap_sp_auditor;
SELECT pg_temp.auditor_steps('clean');
RESET ROLE;

-------------------------------------------------------------------------------
-- ... and with the attackers' look-alikes first (keys tapspa:*).
-------------------------------------------------------------------------------
SET ROLE tap_sp_client;
SET search_path = pg_catalog;
SELECT pg_temp.plant_temp('tap_sp_c');
SET search_path = pg_temp, tap_sp_c, pg_catalog, public;
-- control: the traps work (an unqualified call, operator and table)
SELECT pg_temp.sp_step('control', 'control now()', 'SELECT now()::pg_catalog.text');
SELECT pg_temp.sp_step('control', 'control text = text', $q$SELECT ('a'::pg_catalog.text = 'a'::pg_catalog.text)::pg_catalog.text$q$);
SELECT pg_temp.sp_step('control', 'control count(*) FROM events', 'SELECT pg_catalog.count(*)::pg_catalog.text FROM events');
SELECT pg_temp.client_steps('hostile', 'tapspa');
RESET ROLE;
SET ROLE tap_sp_admin;
SET search_path = pg_temp, tap_sp_a, pg_catalog, public;
SELECT pg_temp.admin_steps('hostile', 'tapspa');
RESET ROLE;
SET search_path = pg_catalog;
SELECT pg_temp.unplant_temp();
-- (the auditor without the temp look-alikes: its own pg_temp shadowing
-- timestamptz would only hurt itself)
SET ROLE tap_sp_auditor;
SET search_path = tap_sp_u, pg_catalog, public;
SELECT pg_temp.auditor_steps('hostile');
RESET ROLE;
RESET search_path;

SELECT is((SELECT string_agg(DISTINCT h.what || ' by ' || h.who, ', ' ORDER BY h.what || ' by ' || h.who)
             FROM tap_sp_hits h WHERE h.phase LIKE 'control%'),
          'now() by tap_sp_client, op_text_eq(text, text) by tap_sp_client, pg_temp.events by tap_sp_client',
          'control: the look-alikes are live (an unqualified now(), text = text and events in the attacker''s session run them)');

SELECT results_eq(
  $$SELECT phase, state, result FROM tap_sp_results WHERE mode = 'hostile' AND phase LIKE 'c%' ORDER BY phase$$,
  $$SELECT phase, state, result FROM tap_sp_results WHERE mode = 'clean' AND phase LIKE 'c%' ORDER BY phase$$,
  'allot_client under a hostile search_path: redeem, can_redeem, redeem_many and reverse return exactly what they return with a clean one');

SELECT results_eq(
  $$SELECT phase, state, result FROM tap_sp_results WHERE mode = 'hostile' AND phase LIKE 'a%' ORDER BY phase$$,
  $$SELECT phase, state, result FROM tap_sp_results WHERE mode = 'clean' AND phase LIKE 'a%' ORDER BY phase$$,
  'allot_admin under a hostile search_path: set_limit, drop_limit, set_path, rollup, archive_events, drop_archived_events, verify and redeem behave exactly as with a clean one');

SELECT is_empty(
  $$SELECT phase, what, who FROM tap_sp_hits WHERE phase ~ '^[ca][0-9]'$$,
  'no look-alike (function, aggregate, operator, table, type, in the attacker''s schema or pg_temp) runs during any call of allot_client or allot_admin');

SELECT is_empty(
  $$SELECT phase, what, who FROM tap_sp_hits WHERE phase LIKE 'u%'
    UNION ALL
    SELECT h.phase, 'result differs: ' || coalesce(h.state || ' ' || h.msg, h.result), c.result
      FROM tap_sp_results h JOIN tap_sp_results c ON c.phase = h.phase AND c.mode = 'clean'
     WHERE h.mode = 'hostile' AND h.phase LIKE 'u%'
       AND (h.state, h.result) IS DISTINCT FROM (c.state, c.result)$$,
  'allot_auditor reads every view and verify() under a hostile search_path with the same results and no look-alike run (allot._now(), used by allot.usage, binds its operators at call time)');

-------------------------------------------------------------------------------
-- CREATE EXTENSION under a hostile search_path: the look-alikes go to
-- public (and pg_temp), search_path = public, pg_catalog.
-------------------------------------------------------------------------------
CREATE TEMP TABLE public_before AS
SELECT 'class ' || c.relname AS obj FROM pg_catalog.pg_class c WHERE c.relnamespace = 'public'::regnamespace
UNION ALL SELECT 'proc ' || p.oid::regprocedure::text FROM pg_catalog.pg_proc p WHERE p.pronamespace = 'public'::regnamespace
UNION ALL SELECT 'type ' || t.typname FROM pg_catalog.pg_type t WHERE t.typnamespace = 'public'::regnamespace
UNION ALL SELECT 'operator ' || o.oid::regoperator::text FROM pg_catalog.pg_operator o WHERE o.oprnamespace = 'public'::regnamespace;

DROP EXTENSION pg_allot CASCADE;
GRANT CREATE ON SCHEMA public TO tap_sp_client;
SET ROLE tap_sp_client;
SET search_path = pg_catalog;
SELECT pg_temp.plant('public');
RESET ROLE;
RESET search_path;
INSERT INTO public_before
SELECT 'class ' || c.relname FROM pg_catalog.pg_class c WHERE c.relnamespace = 'public'::regnamespace
UNION ALL SELECT 'proc ' || p.oid::regprocedure::text FROM pg_catalog.pg_proc p WHERE p.pronamespace = 'public'::regnamespace
UNION ALL SELECT 'type ' || t.typname FROM pg_catalog.pg_type t WHERE t.typnamespace = 'public'::regnamespace
UNION ALL SELECT 'operator ' || o.oid::regoperator::text FROM pg_catalog.pg_operator o WHERE o.oprnamespace = 'public'::regnamespace
EXCEPT SELECT obj FROM public_before;
SET ROLE tap_sp_client;
SET search_path = pg_catalog;
SELECT pg_temp.plant_temp('public');
RESET ROLE;

SET search_path = public, pg_catalog;
SELECT pg_temp.sp_step('install', 'install: CREATE EXTENSION pg_allot', 'CREATE EXTENSION pg_allot');
RESET search_path;
SET search_path = pg_catalog;
SELECT pg_temp.unplant_temp();
RESET search_path;

SELECT is((SELECT coalesce(state || ' ' || msg, 'installed') FROM tap_sp_results WHERE mode = 'install'),
          'installed', 'CREATE EXTENSION pg_allot succeeds with look-alikes in public and pg_temp and search_path = public, pg_catalog');

SELECT is_empty($$SELECT phase, what, who FROM tap_sp_hits WHERE phase LIKE 'install%'$$,
                'CREATE EXTENSION under the hostile search_path runs no look-alike');

SELECT is_empty($$
  SELECT 'class ' || c.relname AS obj FROM pg_catalog.pg_class c WHERE c.relnamespace = 'public'::regnamespace
  UNION ALL SELECT 'proc ' || p.oid::regprocedure::text FROM pg_catalog.pg_proc p WHERE p.pronamespace = 'public'::regnamespace
  UNION ALL SELECT 'type ' || t.typname FROM pg_catalog.pg_type t WHERE t.typnamespace = 'public'::regnamespace
  UNION ALL SELECT 'operator ' || o.oid::regoperator::text FROM pg_catalog.pg_operator o WHERE o.oprnamespace = 'public'::regnamespace
  EXCEPT SELECT obj FROM public_before
  UNION ALL
  SELECT 'member ' || pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid)
    FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
   WHERE d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.deptype = 'e' AND e.extname = 'pg_allot'
     AND (pg_catalog.pg_identify_object(d.classid, d.objid, d.objsubid)).schema IS DISTINCT FROM 'allot'
     AND d.classid <> 'pg_catalog.pg_namespace'::regclass
  UNION ALL
  SELECT 'pg_allot is not installed' WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_allot')
$$, 'the hostile install puts nothing in public: every object of pg_allot is in schema allot');

SELECT is_empty($$
  SELECT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid) AS object,
         pg_catalog.pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid) AS depends_on, r.schema
    FROM pg_catalog.pg_depend d,
         LATERAL pg_catalog.pg_identify_object(d.classid, d.objid, d.objsubid) o,
         LATERAL pg_catalog.pg_identify_object(d.refclassid, d.refobjid, d.refobjsubid) r
   WHERE (o.schema = 'allot' OR (o.schema IS NULL AND o.identity ~ '(^| )(on|for) allot\.'))
     AND d.deptype IN ('n', 'a')
     AND r.schema IS NOT NULL AND r.schema NOT IN ('allot', 'pg_catalog')
$$, 'after the hostile install no table, view, function, type, default, rule or trigger of pg_allot uses an object outside pg_catalog and allot');

SELECT is_empty($$
  SELECT p.oid::regprocedure::text
    FROM pg_catalog.pg_proc p
   WHERE p.pronamespace = 'allot'::regnamespace
     AND (p.proacl IS NULL
          OR EXISTS (SELECT 1 FROM pg_catalog.aclexplode(p.proacl) a WHERE a.grantee = 0))
$$, 'after the hostile install PUBLIC has no EXECUTE on any function in schema allot');

-- The freshly installed extension, called by the client under the
-- hostile search_path, behaves as the first one did with a clean path.
SELECT allot.set_limit('tapspr:*', 3) > 0 AS limit_set;
CREATE TEMP TABLE hits_before_reinstall_run AS SELECT coalesce(max(id), 0) AS id FROM tap_sp_hits;
SET ROLE tap_sp_client;
SET search_path = pg_catalog;
SELECT pg_temp.plant_temp('tap_sp_c');
SET search_path = pg_temp, tap_sp_c, public, pg_catalog;
SELECT pg_temp.client_steps('reinstalled', 'tapspr');
RESET ROLE;
SET search_path = pg_catalog;
SELECT pg_temp.unplant_temp();
RESET search_path;

SELECT is_empty($$
  SELECT phase, what, who FROM tap_sp_hits WHERE phase ~ '^c[0-9]' AND id > (SELECT id FROM hits_before_reinstall_run)
  UNION ALL
  SELECT h.phase, 'result differs: ' || coalesce(h.state || ' ' || h.msg, h.result), c.result
    FROM tap_sp_results h JOIN tap_sp_results c ON c.phase = h.phase AND c.mode = 'clean'
   WHERE h.mode = 'reinstalled' AND (h.state, h.result) IS DISTINCT FROM (c.state, c.result)
  UNION ALL
  SELECT 'missing', phase, NULL FROM tap_sp_results c WHERE c.mode = 'clean' AND c.phase LIKE 'c%'
     AND NOT EXISTS (SELECT 1 FROM tap_sp_results h WHERE h.mode = 'reinstalled' AND h.phase = c.phase)
$$, 'the extension installed under the hostile search_path works: the client''s calls return what they did before, and run no look-alike');

-- The extension owner, a superuser, reads the views and runs verify() with
-- the look-alikes in public first on its search_path. The views were bound
-- at install, but the functions they call run now: allot._now() (whose
-- nullif() and cast would otherwise bind in the reader's path) and the C
-- helpers the worker calls too.
SET search_path = public, pg_catalog;
SELECT pg_temp.auditor_steps('owner', 'o');
RESET search_path;

SELECT is_empty($$
  SELECT phase, what, who FROM tap_sp_hits WHERE phase LIKE 'o %'
  UNION ALL
  SELECT h.phase, 'result differs: ' || coalesce(h.state || ' ' || h.msg, h.result), c.result
    FROM tap_sp_results h JOIN tap_sp_results c ON c.mode = 'clean' AND c.phase = 'u' || substr(h.phase, 2)
   WHERE h.mode = 'owner' AND (h.state, h.result) IS DISTINCT FROM (c.state, c.result)
$$, 'the extension owner (a superuser) reads every view and verify() with look-alikes in public first on its search_path, and runs none of them');

SELECT is_empty($$
  SELECT p.oid::regprocedure::text || ': ' || coalesce(array_to_string(p.proconfig, ' '), 'no SET clause')
    FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang
   WHERE p.pronamespace = 'allot'::regnamespace
     AND (p.prosecdef OR l.lanname IN ('sql', 'plpgsql')
          -- called by the rollup worker's own statements
          OR p.oid IN ('allot._now()'::regprocedure,
                       'allot._current_window(interval, boolean, tstzrange, timestamptz)'::regprocedure))
     AND p.proconfig IS DISTINCT FROM ARRAY['search_path=pg_catalog, pg_temp']
$$, 'every function in allot that is SECURITY DEFINER, has an SQL or PL/pgSQL body, or is called by the rollup worker sets search_path = pg_catalog, pg_temp (allot._now() included)');

SELECT is_empty($$SELECT phase, what, who FROM tap_sp_hits WHERE who NOT LIKE 'tap_sp_%'$$,
                'no look-alike ever ran with the rights of anyone but the attacker who planted it (the extension owner above all)');

-------------------------------------------------------------------------------
-- A schema "allot" that exists before CREATE EXTENSION. Another role's:
-- its owner could rename it later and put its own allot.limits in the way
-- of the SECURITY DEFINER functions. One where another role may create
-- objects, or that holds objects already: those could stand in for the
-- extension's. CREATE EXTENSION refuses each with a clear error (42P06,
-- like CREATE SCHEMA's own) and changes nothing; it takes only an empty
-- schema of the installing role's own.
-------------------------------------------------------------------------------
-- (last: the extension stays dropped or is installed again; the final
-- ROLLBACK restores it)
DROP EXTENSION pg_allot CASCADE;
DROP SCHEMA IF EXISTS allot CASCADE;
DO $do$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO tap_sp_client', current_database()); END $do$;
SET ROLE tap_sp_client;
CREATE SCHEMA allot;
RESET ROLE;
SELECT pg_temp.sp_step('trojan', 'trojan: CREATE EXTENSION pg_allot', 'CREATE EXTENSION pg_allot');
CREATE TEMP TABLE trojan_outcome AS
SELECT (SELECT state FROM tap_sp_results WHERE mode = 'trojan') AS install_error,
       (SELECT msg FROM tap_sp_results WHERE mode = 'trojan') AS message,
       (SELECT n.nspowner::regrole::text FROM pg_catalog.pg_namespace n WHERE n.nspname = 'allot') AS schema_owner,
       EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_allot') AS installed,
       (SELECT count(*) FROM pg_catalog.pg_class c WHERE c.relnamespace = 'allot'::regnamespace) AS relations;

SELECT ok((SELECT install_error IS NOT DISTINCT FROM '42P06' AND message LIKE '%"allot"%belongs to role "tap_sp_client"%'
             FROM trojan_outcome),
          'CREATE EXTENSION refuses a schema allot created beforehand by another role: 42P06 naming its owner (got: '
          || coalesce((SELECT install_error || ' ' || message FROM trojan_outcome), 'installed, no error') || ')');
SELECT is((SELECT (schema_owner, installed, relations)::text FROM trojan_outcome),
          '(tap_sp_client,f,0)',
          'the refused install leaves that schema as it was (its owner, empty) and installs nothing');

-- The installing role's own schema, in which another role may create objects.
DROP EXTENSION IF EXISTS pg_allot CASCADE;  -- (had it been installed there)
DROP SCHEMA allot CASCADE;
CREATE SCHEMA allot;
GRANT CREATE ON SCHEMA allot TO tap_sp_client;
SELECT pg_temp.sp_step('shared', 'shared: CREATE EXTENSION pg_allot', 'CREATE EXTENSION pg_allot');
SELECT is((SELECT state || ' ' || (msg LIKE '%may create objects in it: tap_sp_client%')::text
             FROM tap_sp_results WHERE mode = 'shared'),
          '42P06 true',
          'CREATE EXTENSION refuses a schema allot in which another role may create objects: 42P06 naming the role');

-- The installing role's own schema, holding an object already.
DROP EXTENSION IF EXISTS pg_allot CASCADE;
REVOKE CREATE ON SCHEMA allot FROM tap_sp_client;
CREATE FUNCTION allot._now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT 'infinity'::timestamptz $$;
SELECT pg_temp.sp_step('occupied', 'occupied: CREATE EXTENSION pg_allot', 'CREATE EXTENSION pg_allot');
SELECT is((SELECT state || ' ' || (msg LIKE '%not empty: it holds function allot._now()%')::text
             FROM tap_sp_results WHERE mode = 'occupied'),
          '42P06 true',
          'CREATE EXTENSION refuses a schema allot that holds objects already: 42P06 naming them');

-- An empty schema of the installing role's own is taken.
DROP EXTENSION IF EXISTS pg_allot CASCADE;
DROP FUNCTION IF EXISTS allot._now();
SELECT pg_temp.sp_step('own', 'own: CREATE EXTENSION pg_allot', 'CREATE EXTENSION pg_allot');
SELECT is((SELECT coalesce(state || ' ' || msg, result) FROM tap_sp_results WHERE mode = 'own'), 'done',
          'CREATE EXTENSION installs into an empty schema allot that the installing role created beforehand');

SELECT * FROM finish();
ROLLBACK;
