-- The public contract's shape (API.md): every function with exactly the
-- signature, parameter names, defaults and result the document gives, and
-- every column of the result types, the audit log and the views.
-- Names are part of the contract (callers use named notation and SELECT
-- columns by name), so they are checked too, not just types.
--
-- allot.violations and allot.stats: API.md describes their content in
-- words; the columns checked are the ones those words require.
--
-- Run: pg_prove -h HOST -p PORT -U postgres -d DB tests/pgtap/*.sql
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS pg_allot;

SELECT plan(164);

SELECT has_schema('allot');

-- Functions: existence and result type ----------------------------------------------
SELECT has_function('allot', 'redeem', ARRAY['uuid', 'text[]', 'bigint']);
SELECT function_returns('allot', 'redeem', ARRAY['uuid', 'text[]', 'bigint'], 'allot.decision');
SELECT has_function('allot', 'redeem_many', ARRAY['jsonb']);
SELECT function_returns('allot', 'redeem_many', ARRAY['jsonb'], 'setof allot.item_decision');
SELECT has_function('allot', 'can_redeem', ARRAY['text[]', 'bigint']);
SELECT function_returns('allot', 'can_redeem', ARRAY['text[]', 'bigint'], 'setof record');
SELECT has_function('allot', 'reverse', ARRAY['uuid', 'text']);
SELECT function_returns('allot', 'reverse', ARRAY['uuid', 'text'], 'boolean');
SELECT has_function('allot', 'set_limit', ARRAY['text', 'bigint', 'interval', 'boolean', 'tstzrange', 'text']);
SELECT function_returns('allot', 'set_limit', ARRAY['text', 'bigint', 'interval', 'boolean', 'tstzrange', 'text'], 'bigint');
SELECT has_function('allot', 'drop_limit', ARRAY['text', 'interval', 'boolean']);
SELECT function_returns('allot', 'drop_limit', ARRAY['text', 'interval', 'boolean'], 'integer');
SELECT has_function('allot', 'rollup', ARRAY[]::text[]);
SELECT function_returns('allot', 'rollup', ARRAY[]::text[], 'setof record');
SELECT has_function('allot', 'verify', ARRAY[]::text[]);
SELECT function_returns('allot', 'verify', ARRAY[]::text[], 'setof record');

-- One function of each name (no overloads that would make calls ambiguous).
SELECT is((SELECT count(*) FROM pg_catalog.pg_proc
            WHERE pronamespace = 'allot'::regnamespace AND proname = f),
          1::bigint, 'exactly one allot.' || f)
  FROM unnest(ARRAY['redeem', 'redeem_many', 'can_redeem', 'reverse',
                    'set_limit', 'drop_limit', 'rollup', 'verify']) AS f;

-- Parameter names and defaults (as PostgreSQL prints them) ---------------------------
SELECT is(pg_catalog.pg_get_function_arguments(sig::regprocedure), args,
          'arguments of ' || sig)
  FROM (VALUES
    ('allot.redeem(uuid, text[], bigint)',
     'txn uuid, keys text[], amount bigint DEFAULT 1'),
    ('allot.redeem_many(jsonb)',
     'requests jsonb'),
    ('allot.can_redeem(text[], bigint)',
     'keys text[], amount bigint DEFAULT 1'),
    ('allot.reverse(uuid, text)',
     'txn uuid, reason text DEFAULT NULL::text'),
    ('allot.set_limit(text, bigint, interval, boolean, tstzrange, text)',
     'scope text, max bigint, per interval DEFAULT NULL::interval, sliding boolean DEFAULT false, '
     'valid tstzrange DEFAULT ''(,)''::tstzrange, mode text DEFAULT ''enforce''::text'),
    ('allot.drop_limit(text, interval, boolean)',
     'scope text, per interval DEFAULT NULL::interval, sliding boolean DEFAULT false')
  ) AS t(sig, args);

-- Table results: column names and types --------------------------------------------
SELECT is(pg_catalog.pg_get_function_result(sig::regprocedure), result,
          'result of ' || sig)
  FROM (VALUES
    ('allot.can_redeem(text[], bigint)',
     'TABLE(key text, limit_id bigint, allowed boolean, remaining bigint, retry_after interval)'),
    ('allot.rollup()',
     'TABLE(events bigint, keys bigint, promoted integer, demoted integer)'),
    ('allot.verify()',
     'TABLE(key text, limit_id bigint, window_start timestamp with time zone, counted bigint, from_events bigint)')
  ) AS t(sig, result);

-- Composite result types -----------------------------------------------------------
SELECT has_composite('allot', 'decision', 'allot.decision is a composite type');
SELECT has_composite('allot', 'item_decision', 'allot.item_decision is a composite type');

-- allot.decision, in order
SELECT is(ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
                 WHERE a.attrelid = 'allot.decision'::regclass AND a.attnum > 0 AND NOT a.attisdropped
                 ORDER BY a.attnum),
          ARRAY['granted', 'replayed', 'path', 'denied_keys', 'retry_after'],
          'allot.decision columns, in order');
-- allot.item_decision: idx, the columns of allot.decision, error
SELECT is(ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
                 WHERE a.attrelid = 'allot.item_decision'::regclass AND a.attnum > 0 AND NOT a.attisdropped
                 ORDER BY a.attnum),
          ARRAY['idx', 'granted', 'replayed', 'path', 'denied_keys', 'retry_after', 'error'],
          'allot.item_decision columns, in order');

-- Columns of types, tables and views (has_column + col_type_is) ----------------------
CREATE TEMP TABLE api_columns (rel text, col text, typ text) ON COMMIT DROP;
INSERT INTO api_columns VALUES
  ('decision', 'granted', 'boolean'),
  ('decision', 'replayed', 'boolean'),
  ('decision', 'path', 'text'),
  ('decision', 'denied_keys', 'text[]'),
  ('decision', 'retry_after', 'interval'),
  ('item_decision', 'idx', 'integer'),
  ('item_decision', 'granted', 'boolean'),
  ('item_decision', 'replayed', 'boolean'),
  ('item_decision', 'path', 'text'),
  ('item_decision', 'denied_keys', 'text[]'),
  ('item_decision', 'retry_after', 'interval'),
  ('item_decision', 'error', 'text'),
  ('events', 'seq', 'bigint'),
  ('events', 'txn', 'uuid'),
  ('events', 'at', 'timestamp with time zone'),
  ('events', 'kind', 'text'),
  ('events', 'keys', 'text[]'),
  ('events', 'amount', 'bigint'),
  ('events', 'path', 'text'),
  ('events', 'detail', 'jsonb'),
  ('usage', 'key', 'text'),
  ('usage', 'limit_id', 'bigint'),
  ('usage', 'used', 'bigint'),
  ('usage', 'max', 'bigint'),
  ('usage', 'remaining', 'bigint'),
  ('usage', 'window_start', 'timestamp with time zone'),
  ('usage', 'path', 'text'),
  ('usage', 'rate', NULL),            -- units/s: any numeric type
  ('entities', 'key', 'text'),
  ('entities', 'path', 'text'),
  ('entities', 'rate', NULL),
  ('entities', 'last_seen', 'timestamp with time zone'),
  ('entities', 'path_changed_at', 'timestamp with time zone'),
  ('limits', 'id', 'bigint'),          -- set_limit returns it as bigint
  ('limits', 'scope', 'text'),
  ('limits', 'max', 'bigint'),
  ('limits', 'per', 'interval'),
  ('limits', 'sliding', 'boolean'),
  ('limits', 'valid', 'tstzrange'),
  ('limits', 'mode', 'text'),
  ('violations', 'key', 'text'),
  ('violations', 'limit_id', 'bigint'),
  ('violations', 'mode', 'text'),
  ('violations', 'window_start', 'timestamp with time zone'),
  ('violations', 'used', 'bigint'),
  ('violations', 'max', 'bigint'),
  ('stats', 'grants_fast', 'bigint'),
  ('stats', 'grants_slow', 'bigint'),
  ('stats', 'denials', 'bigint'),
  ('stats', 'replays', 'bigint'),
  ('stats', 'reversals', 'bigint'),
  ('stats', 'promotions', 'bigint'),
  ('stats', 'demotions', 'bigint'),
  ('stats', 'rollups', 'bigint'),
  ('stats', 'events_not_rolled_up', 'bigint'),
  ('stats', 'shared_keys_used', 'bigint'),
  ('stats', 'max_keys', 'bigint');

SELECT has_column('allot', rel, col, 'allot.' || rel || ' has column ' || col)
  FROM api_columns ORDER BY rel, col;
SELECT col_type_is('allot', rel, col, typ, 'allot.' || rel || '.' || col || ' is ' || typ)
  FROM api_columns WHERE typ IS NOT NULL ORDER BY rel, col;
SELECT ok(pg_catalog.format_type(a.atttypid, a.atttypmod)
            IN ('double precision', 'real', 'numeric', 'bigint', 'integer'),
          'allot.' || c.rel || '.rate is numeric (units/s)')
  FROM api_columns c
  JOIN pg_catalog.pg_attribute a
    ON a.attrelid = ('allot.' || c.rel)::regclass AND a.attname = c.col
 WHERE c.typ IS NULL ORDER BY c.rel;

-- Kinds of relation the API names -----------------------------------------------------
SELECT has_table('allot', 'events', 'allot.events is a table (the append-only log)');
SELECT has_view('allot', 'usage', 'allot.usage is a view');
SELECT has_view('allot', 'violations', 'allot.violations is a view');
SELECT has_view('allot', 'stats', 'allot.stats is a view');
SELECT ok(EXISTS (SELECT 1 FROM pg_catalog.pg_class
                   WHERE oid = 'allot.entities'::regclass AND relkind IN ('r', 'v', 'm', 'p')),
          'allot.entities is a table or view');
SELECT ok(EXISTS (SELECT 1 FROM pg_catalog.pg_class
                   WHERE oid = 'allot.limits'::regclass AND relkind IN ('r', 'v', 'm', 'p')),
          'allot.limits is a table or view');

-- Named notation and defaults work as documented ---------------------------------------
SELECT cmp_ok(allot.set_limit(scope => 'apishape:k1', max => 2), '>', 0::bigint,
              'set_limit(scope =>, max =>) with every other argument defaulted');
SELECT is((allot.redeem(txn => '00000000-0000-0000-0000-00000000e001', keys => ARRAY['apishape:k1'])).granted,
          true, 'redeem(txn =>, keys =>) with amount defaulted to 1');
SELECT is((SELECT used FROM allot.usage WHERE key = 'apishape:k1'), 1::bigint,
          'the default amount is 1');
SELECT is(allot.reverse(txn => '00000000-0000-0000-0000-00000000e001'), true,
          'reverse(txn =>) with reason defaulted');
SELECT is(allot.drop_limit(scope => 'apishape:k1'), 1,
          'drop_limit(scope =>) drops the total limit it names');
SELECT is((SELECT count(*) FROM allot.stats), 1::bigint, 'allot.stats has exactly one row');

SELECT * FROM finish();
ROLLBACK;
