-- Hostile input at every SQL entry point (API.md "Errors": bad input gets
-- 22023 or 22P02 and a message that names the problem; nothing is consumed
-- and nothing is logged as granted; the server never crashes on any input).
--
-- Every call goes through pg_temp.try_call(), which runs it in a
-- subtransaction and records its SQLSTATE and message (or its result) in
-- hostile_calls; redeem_many items go to batch_spec / batch_items. The
-- properties are then checked per section over those tables:
--   * hygiene: no XX000, only documented SQLSTATEs, no empty message and
--     none that shows C++ internals;
--   * classification: every bad call rejected, every valid call accepted
--     (23505 only for a txn reused with other keys or amount, 55000 only
--     for set_path 'fast' without the preload);
--   * the message names the problem (the bad key, the argument...);
--   * nothing consumed: a fingerprint of events, txns, usage, counters,
--     limits, entity_state and the shared-memory meters is unchanged by
--     sections 1-7 (apart from their valid items, of kind taphok); counts
--     and sums of the log match what the valid random calls were told;
--     verify() and violations stay empty; and a final probe redeems the
--     remaining units of every touched key and is denied one more (a
--     leaked reservation or a lost unit shows there).
-- A randomized section (setseed) throws a few thousand calls built from
-- good and hostile pieces at all entry points and checks the same
-- properties, with the expected outcome of each call computed from its
-- pieces (and from the txns granted so far, for replays and 23505).
--
-- Runs with and without shared_preload_libraries = 'pg_allot'.
-- Run: pg_prove -h HOST -p PORT -U postgres -d DB tests/pgtap/hostile_input.sql
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS pg_allot;
SET LOCAL client_min_messages = warning;
SET LOCAL allot.clock_override = '2026-03-31 12:00:00+00';
SET LOCAL allot.log_denials = on;

SELECT plan(89);

-------------------------------------------------------------------------------
-- Limits on the kinds used below (kinds start with "taph" so that the
-- checks can tell this file's keys from anything else in the database).
-------------------------------------------------------------------------------
CREATE TEMP TABLE tap_limits (name text PRIMARY KEY, id bigint);
INSERT INTO tap_limits VALUES
  ('taphv',  allot.set_limit('taphv:*', 1000)),                  -- explicit sections
  ('taphs',  allot.set_limit('taphs:*', 1, mode => 'shadow')),   -- shadow, for overflow
  ('taphr',  allot.set_limit('taphr:*', 200)),                   -- random pool
  ('taphw',  allot.set_limit('taphw:*', 3, '1 day')),            -- random pool, fixed window
  ('taphl',  allot.set_limit('taphl:*', 5, '1 hour', sliding => true)),  -- slow path
  ('taphru', allot.set_limit('taphr:*/taphu:*', 20)),            -- pairs
  ('taphb',  allot.set_limit('taphb:*', 100)),                   -- the 10,000-item batch
  ('taphp',  allot.set_limit('taphp:*', 100)),                   -- set_path keys
  ('taph4',  allot.set_limit('taphv:*/taphu:*/taphx:*/taphy:*', 1000)),  -- a 4-segment class
  ('taphok', allot.set_limit('taphok:*', 1000)),                 -- valid items among bad ones
  ('taphd',  allot.set_limit('taphd:*', 2));                     -- txns repeated across calls

-------------------------------------------------------------------------------
-- Recording
-------------------------------------------------------------------------------
CREATE TEMP TABLE hostile_calls (
  id        bigserial PRIMARY KEY,
  section   text NOT NULL,
  fn        text NOT NULL,
  what      text NOT NULL,
  -- ok: must succeed; reject: must fail with a state in "allowed";
  -- conflict: must fail with 23505; prereq: must fail with 55000;
  -- either: may succeed or fail (with a state in "allowed")
  expect    text NOT NULL CHECK (expect IN ('ok', 'reject', 'conflict', 'prereq', 'either')),
  allowed   text[] NOT NULL DEFAULT ARRAY['22023', '22P02'],
  needles   text[],            -- an error message must contain every one
  state     text,              -- NULL: the call succeeded
  msg       text,
  result    text,
  -- redeem / reverse bookkeeping (random section and probes)
  amount    numeric,
  granted   boolean,
  replayed  boolean,
  expect_replay boolean,
  expect_result text
);

-- Runs sql (which returns one value) in a subtransaction; records what
-- happened; returns the value (NULL on error).
CREATE FUNCTION pg_temp.try_call(p_section text, p_fn text, p_what text, p_expect text, p_sql text,
                                 p_needles text[] DEFAULT NULL,
                                 p_allowed text[] DEFAULT ARRAY['22023', '22P02'])
RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
  r text;
BEGIN
  p_allowed := coalesce(p_allowed, ARRAY['22023', '22P02']);
  BEGIN
    EXECUTE p_sql INTO r;
  EXCEPTION WHEN OTHERS THEN
    INSERT INTO hostile_calls (section, fn, what, expect, allowed, needles, state, msg)
    VALUES (p_section, p_fn, p_what, p_expect, p_allowed, p_needles, SQLSTATE, SQLERRM);
    RETURN NULL;
  END;
  INSERT INTO hostile_calls (section, fn, what, expect, allowed, needles, result)
  VALUES (p_section, p_fn, p_what, p_expect, p_allowed, p_needles, r);
  RETURN r;
END
$f$;

-- redeem_many items: what each item is expected to get, and what it got.
CREATE TEMP TABLE batch_spec (
  section text NOT NULL,
  batch   text NOT NULL,
  idx     integer NOT NULL,
  item    jsonb,
  -- ok: decided (error NULL); bad: granted = false and an error naming the
  -- problem; conflict: error (txn granted before with other keys/amount)
  expect  text NOT NULL CHECK (expect IN ('ok', 'bad', 'conflict', 'dup_same', 'dup_other')),
  needles text[],
  ref_idx integer,            -- dup_same / dup_other: the item whose txn is reused
  bkey    text,               -- the (single) key of a good item, for order checks
  amount  bigint,
  expect_replay boolean,
  PRIMARY KEY (section, batch, idx)
);
CREATE TEMP TABLE batch_items (
  section text NOT NULL,
  batch   text NOT NULL,
  idx     integer NOT NULL,
  granted boolean, replayed boolean, path text, denied_keys text[], retry_after interval,
  error   text,
  PRIMARY KEY (section, batch, idx)
);

-- Runs redeem_many over the items of batch_spec (section, batch) in idx
-- order, or over "requests" when given; records the call and its rows.
CREATE FUNCTION pg_temp.run_batch(p_section text, p_batch text, p_requests jsonb DEFAULT NULL,
                                  p_use_spec boolean DEFAULT true)
RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
  req jsonb := p_requests;
BEGIN
  IF p_use_spec THEN
    SELECT coalesce(jsonb_agg(s.item ORDER BY s.idx), '[]') INTO req
      FROM batch_spec s WHERE s.section = p_section AND s.batch = p_batch;
  END IF;
  BEGIN
    INSERT INTO batch_items
    SELECT p_section, p_batch, d.idx, d.granted, d.replayed, d.path, d.denied_keys, d.retry_after, d.error
      FROM allot.redeem_many(req) d;
    INSERT INTO hostile_calls (section, fn, what, expect, result)
    VALUES (p_section, 'redeem_many', p_batch, 'ok', 'rows');
  EXCEPTION WHEN OTHERS THEN
    INSERT INTO hostile_calls (section, fn, what, expect, state, msg)
    VALUES (p_section, 'redeem_many', p_batch, 'ok', SQLSTATE, SQLERRM);
  END;
END
$f$;

-- Everything a bad call must leave alone. The shared-memory meters are the
-- one place a rolled-back call could leave something behind (units
-- reserved on the fast path must be given back); empty without the preload.
CREATE FUNCTION pg_temp.fingerprint() RETURNS text LANGUAGE sql AS $f$
  SELECT concat_ws(E'\n',
    'events '   || (SELECT count(*) || ' ' || coalesce(sum(amount), 0) FROM allot.events
                     WHERE NOT keys[1] LIKE 'taphok:%'),
    'grants '   || (SELECT count(*) FROM allot.events WHERE kind = 'grant' AND NOT keys[1] LIKE 'taphok:%'),
    'txns '     || (SELECT md5(coalesce(string_agg(t::text, ';' ORDER BY t.txn), '')) FROM allot.txns t
                     WHERE NOT t.keys[1] LIKE 'taphok:%'),
    'usage '    || (SELECT md5(coalesce(string_agg(concat_ws('|', u.key, u.limit_id, u.used, u.max,
                                                              u.remaining, u.window_start), ';'
                                                  ORDER BY u.key, u.limit_id), ''))
                      FROM allot.usage u WHERE u.key NOT LIKE 'taphok:%'),
    'counters ' || (SELECT md5(coalesce(string_agg(c::text, ';' ORDER BY c.key, c.limit_id, c.window_start), ''))
                      FROM allot.counters c WHERE c.key NOT LIKE 'taphok:%'),
    'limits '   || (SELECT md5(coalesce(string_agg(l::text, ';' ORDER BY l.id), '')) FROM allot.limits l),
    'paths '    || (SELECT md5(coalesce(string_agg(concat_ws('|', e.key, e.path), ';' ORDER BY e.key), ''))
                      FROM allot.entity_state e WHERE e.key NOT LIKE 'taphok:%'),
    'meters '   || (SELECT md5(coalesce(string_agg(concat_ws('|', s.key, s.meters::text), ';' ORDER BY s.key), ''))
                      FROM allot._shared_keys() s WHERE s.key LIKE 'taph%' AND s.key NOT LIKE 'taphok:%'))
$f$;

-- The problems each property looks for, one row per offending call.
CREATE TEMP VIEW call_state_problems AS
SELECT section, id, fn, what, expect, state, msg
  FROM hostile_calls
 WHERE state IS NOT NULL
   AND (state = 'XX000'
        OR (expect IN ('reject', 'either') AND NOT state = ANY (allowed))
        OR (expect = 'conflict' AND state <> '23505')
        OR (expect = 'prereq' AND state <> '55000'));

CREATE TEMP VIEW call_message_problems AS
SELECT section, id, fn, what, state, msg
  FROM hostile_calls
 WHERE state IS NOT NULL
   AND (coalesce(btrim(msg), '') = ''
        OR msg ~ '(std::|basic_string|what\(\)|json\.exception|nlohmann|terminate called|C\+\+|__cxa|could not prepare|SPI_)');

CREATE TEMP VIEW call_class_problems AS
SELECT section, id, fn, what, expect, state, msg, result
  FROM hostile_calls
 WHERE (expect = 'ok' AND state IS NOT NULL)
    OR (expect IN ('reject', 'conflict', 'prereq') AND state IS NULL)
    OR (expect_replay IS NOT NULL AND state IS NULL AND replayed IS DISTINCT FROM expect_replay)
    OR (expect_result IS NOT NULL AND state IS NULL AND result IS DISTINCT FROM expect_result);

CREATE TEMP VIEW call_unnamed_problems AS
SELECT section, id, fn, what, needles, msg
  FROM hostile_calls c
 WHERE c.state IS NOT NULL AND c.needles IS NOT NULL
   AND EXISTS (SELECT 1 FROM unnest(c.needles) AS n WHERE strpos(c.msg, n) = 0);

CREATE TEMP VIEW item_problems AS
SELECT s.section, s.batch, s.idx, s.expect, s.item::text AS item, i.granted, i.replayed, i.error,
       CASE
         WHEN i.idx IS NULL THEN 'no result row'
         WHEN s.expect = 'bad' AND (i.granted OR i.replayed OR i.path IS NOT NULL
                                    OR i.denied_keys <> '{}' OR i.error IS NULL)
           THEN 'bad item not refused as documented (granted = false, error set, nothing else)'
         WHEN s.expect = 'bad' AND EXISTS (SELECT 1 FROM unnest(s.needles) AS n WHERE strpos(i.error, n) = 0)
           THEN 'error does not name the problem'
         WHEN s.expect = 'ok' AND i.error IS NOT NULL THEN 'valid item got an error'
         WHEN s.expect = 'ok' AND s.expect_replay IS NOT NULL AND i.replayed IS DISTINCT FROM s.expect_replay
           THEN 'replayed should be ' || s.expect_replay
         WHEN s.expect = 'ok' AND NOT i.granted AND i.replayed THEN 'denied but replayed'
         WHEN s.expect = 'conflict' AND (i.error IS NULL OR i.granted) THEN 'txn reused with other keys not refused'
         WHEN s.expect = 'conflict' AND EXISTS (SELECT 1 FROM unnest(s.needles) AS n WHERE strpos(i.error, n) = 0)
           THEN 'conflict error does not name the txn'
       END AS problem
  FROM batch_spec s
  LEFT JOIN batch_items i ON (i.section, i.batch, i.idx) = (s.section, s.batch, s.idx)
 WHERE s.expect IN ('ok', 'bad', 'conflict');

CREATE TEMP TABLE fingerprints (at text PRIMARY KEY, fp text);
INSERT INTO fingerprints VALUES ('start', pg_temp.fingerprint());

-------------------------------------------------------------------------------
-- Bad keys: every rule of the key grammar (API.md / README "Keys") broken
-- once, and hostile text. needles: what the message must contain (the key,
-- as far as the message quotes it, and a word for the rule).
-------------------------------------------------------------------------------
CREATE TEMP TABLE bad_keys (id serial PRIMARY KEY, rule text, k text, needles text[],
                            bad_scope boolean DEFAULT true);
INSERT INTO bad_keys (rule, k, needles, bad_scope) VALUES
  ('empty key',                '',                         ARRAY['""', 'empty'], true),
  ('no colon',                 'taphv',                    ARRAY['"taphv"', 'kind:id'], true),
  ('empty kind',               ':V1',                      ARRAY['":V1"', 'kind'], true),
  ('empty id',                 'taphv:',                   ARRAY['"taphv:"', 'id'], true),
  ('uppercase kind',           'Taphv:V1',                 ARRAY['Taphv:V1', 'kind'], true),
  ('kind starts with a digit', '1taphv:V1',                ARRAY['1taphv:V1', 'kind'], true),
  ('kind starts with _',       '_taphv:V1',                ARRAY['_taphv:V1', 'kind'], true),
  ('dash in kind',             'taph-v:V1',                ARRAY['taph-v:V1', 'kind'], true),
  ('space in kind',            'taph v:V1',                ARRAY['taph v:V1', 'kind'], true),
  ('non-ASCII kind',           'täphv:V1',                 ARRAY['täphv:V1', 'kind'], true),
  ('emoji kind',               '😀:V1',                    ARRAY['😀:V1', 'kind'], true),
  ('RTL override before kind', E'\u202etaphv:V1',          ARRAY[E'\u202etaphv:V1', 'kind'], true),
  ('backslash in kind',        E'taph\\v:V1',              ARRAY[E'taph\\v:V1', 'kind'], true),
  ('leading space',            ' taphv:V1',                ARRAY[' taphv:V1', 'kind'], true),
  ('kind of 33 bytes',         repeat('k', 33) || ':x',    ARRAY['kkkkkkkkkkkkkkkk', 'kind', '32'], true),
  ('id of 129 bytes',          'taphv:' || repeat('x', 129), ARRAY['taphv:xxxxxxxxxx', 'id', '128'], true),
  ('id of 65 x é (130 bytes)', 'taphv:' || repeat('é', 65), ARRAY['taphv:éééééééééé', '128'], true),
  ('id of 33 emoji (132 bytes)', 'taphv:' || repeat('😀', 33), ARRAY['taphv:😀😀', '128'], true),
  ('colon in id',              'taphv:a:b',                ARRAY['taphv:a:b', 'id'], true),
  ('id is * (a class)',        'taphv:*',                  ARRAY['taphv:*', 'class'], false),
  ('one id is *',              'taphv:1/taphu:*',          ARRAY['taphv:1/taphu:*', 'class'], true),
  ('tab in id',                E'taphv:a\tb',              ARRAY[E'taphv:a\tb', 'control'], true),
  ('newline in id',            E'taphv:a\nb',              ARRAY[E'taphv:a\nb', 'control'], true),
  ('CR in id',                 E'taphv:a\rb',              ARRAY[E'taphv:a\rb', 'control'], true),
  ('U+0001 in id',             E'taphv:a\u0001b',          ARRAY[E'taphv:a\u0001b', 'control'], true),
  ('ANSI escape in id',        E'taphv:\u001b[31mred',     ARRAY[E'taphv:\u001b[31mred', 'control'], true),
  ('DEL in id',                E'taphv:a\u007fb',          ARRAY[E'taphv:a\u007fb', 'control'], true),
  ('U+0085 (C1) in id',        E'taphv:a\u0085b',          ARRAY[E'taphv:a\u0085b', 'printable'], true),
  ('U+009F (C1) in id',        E'taphv:a\u009fb',          ARRAY[E'taphv:a\u009fb', 'printable'], true),
  ('empty segment',            'taphv:1//taphu:2',         ARRAY['taphv:1//taphu:2', 'segment'], true),
  ('trailing slash',           'taphv:1/',                 ARRAY['taphv:1/', 'segment'], true),
  ('leading slash',            '/taphv:1',                 ARRAY['/taphv:1', 'segment'], true),
  ('five segments',            'a:1/b:2/c:3/d:4/e:5',      ARRAY['a:1/b:2/c:3/d:4/e:5', '4'], true),
  ('key of 257 bytes',         'taphv:' || repeat('x', 121) || '/taphu:' || repeat('y', 123),
                                                           ARRAY['taphv:xxxxxxxxxx', '256'], true),
  ('key of 1 MB',              'taphv:' || repeat('x', 1000000), ARRAY['taphv:xxxxxxxxxx', '256'], true),
  ('key of 300 x 4-byte chars','taphv:' || repeat('😀', 300), ARRAY['taphv:😀😀', '256'], true),
  ('SQL injection as a key',   $k$'; DROP TABLE allot.events; --$k$, ARRAY[$k$'; DROP TABLE$k$, 'kind:id'], true),
  ('dollar quotes',            '$$',                       ARRAY['"$$"', 'kind:id'], true),
  ('format directives',        '%s %n %x',                 ARRAY['%s %n %x', 'kind:id'], true),
  ('a lone backslash',         E'\\',                      ARRAY[E'"\\"', 'kind:id'], true);

-------------------------------------------------------------------------------
-- 1. NULL in every argument position of every function.
-------------------------------------------------------------------------------
DO $do$ BEGIN
PERFORM pg_temp.try_call('null_args', t.fn, t.what, t.expect, t.sql, t.needles)
  FROM (VALUES
    ('redeem', 'txn NULL', 'reject', $$SELECT allot.redeem(NULL, ARRAY['taphv:n1'])::text$$, ARRAY['txn']),
    ('redeem', 'keys NULL', 'reject', $$SELECT allot.redeem('00000000-0000-4000-8000-00000000a001', NULL)::text$$, ARRAY['keys']),
    ('redeem', 'amount NULL', 'reject', $$SELECT allot.redeem('00000000-0000-4000-8000-00000000a001', ARRAY['taphv:n1'], NULL)::text$$, ARRAY['amount']),
    ('redeem', 'every argument NULL', 'reject', $$SELECT allot.redeem(NULL, NULL, NULL)::text$$, ARRAY['NULL']),
    ('can_redeem', 'keys NULL', 'reject', $$SELECT count(*)::text FROM allot.can_redeem(NULL)$$, ARRAY['keys']),
    ('can_redeem', 'amount NULL', 'reject', $$SELECT count(*)::text FROM allot.can_redeem(ARRAY['taphv:n1'], NULL)$$, ARRAY['amount']),
    ('can_redeem', 'every argument NULL', 'reject', $$SELECT count(*)::text FROM allot.can_redeem(NULL, NULL)$$, ARRAY['NULL']),
    ('reverse', 'txn NULL', 'reject', $$SELECT allot.reverse(NULL)::text$$, ARRAY['txn']),
    ('reverse', 'txn and reason NULL', 'reject', $$SELECT allot.reverse(NULL, NULL)::text$$, ARRAY['txn']),
    ('reverse', 'reason NULL (allowed)', 'ok', $$SELECT allot.reverse('00000000-0000-4000-8000-00000000a002', NULL)::text$$, NULL),
    ('redeem_many', 'requests NULL', 'reject', $$SELECT count(*)::text FROM allot.redeem_many(NULL)$$, ARRAY['requests']),
    ('set_limit', 'scope NULL', 'reject', $$SELECT allot.set_limit(NULL, 5)::text$$, ARRAY['scope']),
    ('set_limit', 'max NULL', 'reject', $$SELECT allot.set_limit('taphv:*', NULL)::text$$, ARRAY['max']),
    ('set_limit', 'sliding NULL', 'reject', $$SELECT allot.set_limit('taphv:*', 5, '1 day', NULL)::text$$, ARRAY['sliding']),
    ('set_limit', 'valid NULL', 'reject', $$SELECT allot.set_limit('taphv:*', 5, '1 day', false, NULL)::text$$, ARRAY['valid']),
    ('set_limit', 'mode NULL', 'reject', $$SELECT allot.set_limit('taphv:*', 5, '1 day', false, '(,)', NULL)::text$$, ARRAY['mode']),
    ('set_limit', 'every argument NULL', 'reject', $$SELECT allot.set_limit(NULL, NULL, NULL, NULL, NULL, NULL)::text$$, ARRAY['NULL']),
    ('drop_limit', 'scope NULL', 'reject', $$SELECT allot.drop_limit(NULL)::text$$, ARRAY['scope']),
    ('drop_limit', 'sliding NULL', 'reject', $$SELECT allot.drop_limit('taphv:*', '1 day', NULL)::text$$, ARRAY['sliding']),
    ('drop_limit', 'every argument NULL', 'reject', $$SELECT allot.drop_limit(NULL, NULL, NULL)::text$$, ARRAY['NULL']),
    ('drop_limit', 'per NULL on a scope without limits (allowed)', 'ok', $$SELECT allot.drop_limit('taphz:none', NULL)::text$$, NULL),
    ('set_path', 'key NULL', 'reject', $$SELECT allot.set_path(NULL, 'slow')$$, ARRAY['key']),
    ('set_path', 'path NULL', 'reject', $$SELECT allot.set_path('taphp:n1', NULL)$$, ARRAY['path']),
    ('set_path', 'every argument NULL', 'reject', $$SELECT allot.set_path(NULL, NULL)$$, ARRAY['NULL']),
    ('archive_events', 'replay_window NULL', 'reject', $$SELECT allot.archive_events(NULL)::text$$, ARRAY['replay_window']),
    ('drop_archived_events', 'older_than NULL', 'reject', $$SELECT count(*)::text FROM allot.drop_archived_events(NULL)$$, ARRAY['older_than'])
  ) AS t(fn, what, expect, sql, needles);
END $do$;

-------------------------------------------------------------------------------
-- 2. The key grammar, at every function that takes a key or a scope: each
-- bad key alone, and as the last of three keys (the message gives its
-- position); as a scope of set_limit / drop_limit; as set_path's key.
-------------------------------------------------------------------------------
DO $do$
DECLARE
  b record;
BEGIN
  FOR b IN SELECT * FROM bad_keys ORDER BY id LOOP
    PERFORM pg_temp.try_call('key_grammar', 'redeem', b.rule, 'reject',
              format('SELECT allot.redeem(%L, ARRAY[%L])::text', md5('kg1' || b.id)::uuid, b.k), b.needles);
    PERFORM pg_temp.try_call('key_grammar', 'redeem', b.rule || ' (third of three keys)', 'reject',
              format('SELECT allot.redeem(%L, ARRAY[''taphv:kg1'', ''taphv:kg2'', %L])::text',
                     md5('kg2' || b.id)::uuid, b.k), b.needles || ARRAY['3']);
    PERFORM pg_temp.try_call('key_grammar', 'can_redeem', b.rule, 'reject',
              format('SELECT count(*)::text FROM allot.can_redeem(ARRAY[''taphv:kg1'', %L])', b.k),
              b.needles || ARRAY['2']);
    PERFORM pg_temp.try_call('key_grammar', 'set_path', b.rule, 'reject',
              format('SELECT allot.set_path(%L, ''slow'')', b.k), b.needles);
    IF b.bad_scope THEN
      PERFORM pg_temp.try_call('key_grammar', 'set_limit', b.rule || ' as scope', 'reject',
                format('SELECT allot.set_limit(%L, 5)::text', b.k), b.needles || ARRAY['scope']);
      PERFORM pg_temp.try_call('key_grammar', 'drop_limit', b.rule || ' as scope', 'reject',
                format('SELECT allot.drop_limit(%L)::text', b.k), b.needles || ARRAY['scope']);
    END IF;
  END LOOP;
END
$do$;

-- Mixed scopes (ids and '*') are keys of neither kind.
DO $do$ BEGIN
PERFORM pg_temp.try_call('key_grammar', t.fn, t.what, 'reject', t.sql, t.needles)
  FROM (VALUES
    ('set_limit', 'scope mixes an id and *', $$SELECT allot.set_limit('taphv:1/taphu:*', 5)::text$$, ARRAY['taphv:1/taphu:*', 'class']),
    ('set_limit', 'scope mixes * and an id', $$SELECT allot.set_limit('taphv:*/taphu:1', 5)::text$$, ARRAY['taphv:*/taphu:1', 'class']),
    ('drop_limit', 'scope mixes * and an id', $$SELECT allot.drop_limit('taphv:*/taphu:1')::text$$, ARRAY['taphv:*/taphu:1', 'class'])
  ) AS t(fn, what, sql, needles);
END $do$;

-- The same keys as redeem_many items, each between two valid items.
INSERT INTO batch_spec (section, batch, idx, item, expect, needles)
SELECT 'key_grammar', 'bad keys as items', 2 * (b.id - 1) + 1,
       jsonb_build_object('txn', md5('kg3' || b.id)::uuid, 'keys', jsonb_build_array('taphv:kg3', b.k)),
       'bad', b.needles || ARRAY['2']
  FROM bad_keys b;
INSERT INTO batch_spec (section, batch, idx, item, expect, needles)
SELECT 'key_grammar', 'bad keys as items', 2 * g, jsonb_build_object('txn', md5('kg4' || g)::uuid,
       'keys', jsonb_build_array('taphok:kg4')), 'ok', NULL
  FROM generate_series(0, (SELECT count(*) FROM bad_keys)) AS g;
DO $do$ BEGIN PERFORM pg_temp.run_batch('key_grammar', 'bad keys as items'); END $do$;

-------------------------------------------------------------------------------
-- 3. Arrays: empty, NULL elements, two dimensions, too many, 100,000 keys,
-- duplicates.
-------------------------------------------------------------------------------
DO $do$ BEGIN
PERFORM pg_temp.try_call('arrays', t.fn, t.what, 'reject', t.sql, t.needles)
  FROM (VALUES
    ('redeem', 'empty array', $$SELECT allot.redeem('00000000-0000-4000-8000-00000000a101', '{}')::text$$, ARRAY['keys', 'empty']),
    ('can_redeem', 'empty array', $$SELECT count(*)::text FROM allot.can_redeem('{}')$$, ARRAY['keys', 'empty']),
    ('redeem', 'NULL element 2', $$SELECT allot.redeem('00000000-0000-4000-8000-00000000a102', ARRAY['taphv:a1', NULL])::text$$, ARRAY['NULL', '2']),
    ('redeem', 'only NULL elements', $$SELECT allot.redeem('00000000-0000-4000-8000-00000000a103', ARRAY[NULL, NULL]::text[])::text$$, ARRAY['NULL', '1']),
    ('can_redeem', 'NULL element 3', $$SELECT count(*)::text FROM allot.can_redeem(ARRAY['taphv:a1', 'taphv:a2', NULL])$$, ARRAY['NULL', '3']),
    ('redeem', 'two dimensions', $$SELECT allot.redeem('00000000-0000-4000-8000-00000000a104', '{{taphv:a1},{taphv:a2}}')::text$$, ARRAY['keys', 'dimension']),
    ('can_redeem', 'three dimensions', $$SELECT count(*)::text FROM allot.can_redeem('{{{taphv:a1}}}')$$, ARRAY['keys', 'dimension']),
    ('redeem', '17 keys', $$SELECT allot.redeem('00000000-0000-4000-8000-00000000a105', ARRAY(SELECT 'taphv:a' || i FROM generate_series(1, 17) i))::text$$, ARRAY['17', '16']),
    ('redeem', '100,000 valid keys', $$SELECT allot.redeem('00000000-0000-4000-8000-00000000a106', ARRAY(SELECT 'taphv:a' || i FROM generate_series(1, 100000) i))::text$$, ARRAY['100000', '16']),
    ('can_redeem', '100,000 valid keys', $$SELECT count(*)::text FROM allot.can_redeem(ARRAY(SELECT 'taphv:a' || i FROM generate_series(1, 100000) i))$$, ARRAY['100000', '16']),
    ('redeem', '100,000 NULL keys', $$SELECT allot.redeem('00000000-0000-4000-8000-00000000a107', array_fill(NULL::text, ARRAY[100000]))::text$$, ARRAY['NULL']),
    ('redeem', '100,000 copies of one key', $$SELECT allot.redeem('00000000-0000-4000-8000-00000000a108', array_fill('taphv:a1'::text, ARRAY[100000]))::text$$, ARRAY['100000', '16']),
    ('redeem', 'duplicate key', $$SELECT allot.redeem('00000000-0000-4000-8000-00000000a109', ARRAY['taphv:a1', 'taphv:a2', 'taphv:a1'])::text$$, ARRAY['duplicate', 'taphv:a1']),
    ('can_redeem', 'duplicate key', $$SELECT count(*)::text FROM allot.can_redeem(ARRAY['taphv:é', 'taphv:é'])$$, ARRAY['duplicate', 'taphv:é']),
    ('redeem', 'duplicate multi-segment key', $$SELECT allot.redeem('00000000-0000-4000-8000-00000000a10a', ARRAY['taphv:1/taphu:2', 'taphv:1/taphu:2'])::text$$, ARRAY['duplicate', 'taphv:1/taphu:2'])
  ) AS t(fn, what, sql, needles);
END $do$;

-------------------------------------------------------------------------------
-- 4. Amounts: zero, negative, the int8 extremes, NULL.
-------------------------------------------------------------------------------
DO $do$ BEGIN
PERFORM pg_temp.try_call('amounts', f.fn, f.fn || ' amount ' || a.v, 'reject',
         CASE f.fn
           WHEN 'redeem' THEN format('SELECT allot.redeem(%L, ARRAY[''taphv:m1''], %s)::text', md5('am' || a.v)::uuid, a.v)
           ELSE format('SELECT count(*)::text FROM allot.can_redeem(ARRAY[''taphv:m1''], %s)', a.v)
         END,
         ARRAY['amount', a.v])
  FROM (VALUES ('redeem'), ('can_redeem')) AS f(fn),
       (VALUES ('0'), ('-1'), ('-2'), ('-9223372036854775807'), ('-9223372036854775808'), ('-4294967296')) AS a(v);
END $do$;

-------------------------------------------------------------------------------
-- 5. Malformed txns (text where a uuid is expected).
-------------------------------------------------------------------------------
DO $do$ BEGIN
PERFORM pg_temp.try_call('txns', t.fn, t.what, 'reject', t.sql, t.needles)
  FROM (VALUES
    ('redeem', 'txn ''nope''', $$SELECT allot.redeem('nope', ARRAY['taphv:t1'])::text$$, ARRAY['uuid', 'nope']),
    ('redeem', 'txn of 35 hex digits', $$SELECT allot.redeem('00000000-0000-4000-8000-00000000a10', ARRAY['taphv:t1'])::text$$, ARRAY['uuid']),
    ('redeem', 'txn is SQL injection', $$SELECT allot.redeem($t$'; DROP TABLE allot.events; --$t$, ARRAY['taphv:t1'])::text$$, ARRAY['uuid']),
    ('reverse', 'txn empty text', $$SELECT allot.reverse('')::text$$, ARRAY['uuid']),
    ('reverse', 'txn with a g', $$SELECT allot.reverse('00000000-0000-4000-8000-00000000a10g')::text$$, ARRAY['uuid'])
  ) AS t(fn, what, sql, needles);
END $do$;

INSERT INTO batch_spec (section, batch, idx, item, expect, needles)
SELECT 'txns', 'malformed txns', (n - 1) * 2, jsonb_build_object('txn', t.txn, 'keys', jsonb_build_array('taphv:t2')),
       'bad', t.needles
  FROM (SELECT v.*, row_number() OVER () AS n FROM (VALUES
    ('"not-a-uuid"'::jsonb, ARRAY['txn', 'not-a-uuid']),
    ('""', ARRAY['txn']),
    ('"00000000-0000-4000-8000-00000000a10"', ARRAY['txn', '00000000-0000-4000-8000-00000000a10']),
    ('"00000000-0000-4000-8000-00000000a1001"', ARRAY['txn', '00000000-0000-4000-8000-00000000a1001']),
    ('"00000000-0000-4000-8000-00000000a10g"', ARRAY['txn', 'a10g']),
    ('" 00000000-0000-4000-8000-00000000a100"', ARRAY['txn']),
    ('"{00000000-0000-4000-8000-00000000a100"', ARRAY['txn']),
    ('"urn:uuid:00000000-0000-4000-8000-00000000a100"', ARRAY['txn', 'urn:uuid']),
    ('"٠٠٠٠٠٠٠٠-٠٠٠٠-٤٠٠٠-٨٠٠٠-٠٠٠٠٠٠٠٠٠٠٠٠"', ARRAY['txn']),
    ('"''; DROP TABLE allot.events; --"', ARRAY['txn', 'DROP TABLE']),
    ('12345', ARRAY['txn']),
    ('1.5', ARRAY['txn']),
    ('true', ARRAY['txn']),
    ('["00000000-0000-4000-8000-00000000a100"]', ARRAY['txn']),
    ('{"uuid": "00000000-0000-4000-8000-00000000a100"}', ARRAY['txn']),
    ('null', ARRAY['txn'])
  ) AS v(txn, needles)) AS t;
-- a valid item after each bad one
INSERT INTO batch_spec (section, batch, idx, item, expect)
SELECT 'txns', 'malformed txns', (n - 1) * 2 + 1,
       jsonb_build_object('txn', md5('tx' || n)::uuid, 'keys', jsonb_build_array('taphok:t3')), 'ok'
  FROM generate_series(1, 16) AS n;
DO $do$ BEGIN PERFORM pg_temp.run_batch('txns', 'malformed txns'); END $do$;

-------------------------------------------------------------------------------
-- 6. set_limit / drop_limit / set_path with bad arguments; limits unchanged.
-------------------------------------------------------------------------------
INSERT INTO fingerprints VALUES ('limits before bad set_limit',
  (SELECT md5(string_agg(l::text, ';' ORDER BY l.id)) FROM allot.limits l));

DO $do$ BEGIN
PERFORM pg_temp.try_call('set_limit', 'set_limit', t.what, 'reject', t.sql, t.needles)
  FROM (VALUES
    ('max 0',                    $$SELECT allot.set_limit('taphv:*', 0)::text$$, ARRAY['max', '0']),
    ('max -1 (existing limit)',  $$SELECT allot.set_limit('taphv:*', -1)::text$$, ARRAY['max', '-1']),
    ('max int8 min',             $$SELECT allot.set_limit('taphq:*', -9223372036854775808)::text$$, ARRAY['max', '-9223372036854775808']),
    ('per 0',                    $$SELECT allot.set_limit('taphq:*', 5, '0')::text$$, ARRAY['per']),
    ('per -1 day',               $$SELECT allot.set_limit('taphq:*', 5, '-1 day')::text$$, ARRAY['per']),
    ('per -1 microsecond',       $$SELECT allot.set_limit('taphq:*', 5, '-1 microsecond')::text$$, ARRAY['per']),
    ('per 1 day -1 hour',        $$SELECT allot.set_limit('taphq:*', 5, '1 day -1 hour')::text$$, ARRAY['per']),
    ('per 1 mon -1 day',         $$SELECT allot.set_limit('taphq:*', 5, '1 mon -1 day')::text$$, ARRAY['per']),
    ('per -1 mon 40 days',       $$SELECT allot.set_limit('taphq:*', 5, '-1 mon 40 days')::text$$, ARRAY['per']),
    ('per 1001 years',           $$SELECT allot.set_limit('taphq:*', 5, '1001 years')::text$$, ARRAY['per', '1000']),
    ('per 178000000 years',      $$SELECT allot.set_limit('taphq:*', 5, '178000000 years')::text$$, ARRAY['per', '1000']),
    ('per -178000000 years',     $$SELECT allot.set_limit('taphq:*', 5, '-178000000 years')::text$$, ARRAY['per']),
    ('per 2147483647 days',      $$SELECT allot.set_limit('taphq:*', 5, '2147483647 days')::text$$, ARRAY['per', '1000']),
    ('per 2147483647 months',    $$SELECT allot.set_limit('taphq:*', 5, '2147483647 mons')::text$$, ARRAY['per', '1000']),
    ('per -2147483648 days',     $$SELECT allot.set_limit('taphq:*', 5, '-2147483648 days')::text$$, ARRAY['per']),
    ('per 1 microsecond, then -1 microsecond', $$SELECT allot.set_limit('taphq:*', 5, '1 microsecond'::interval - '1 microsecond'::interval)::text$$, ARRAY['per']),
    ('sliding without per',      $$SELECT allot.set_limit('taphq:*', 5, NULL, true)::text$$, ARRAY['sliding']),
    ('sliding by a month',       $$SELECT allot.set_limit('taphq:*', 5, '1 mon', true)::text$$, ARRAY['sliding']),
    ('sliding by 1 year 1 day',  $$SELECT allot.set_limit('taphq:*', 5, '1 year 1 day', true)::text$$, ARRAY['sliding']),
    ('valid empty',              $$SELECT allot.set_limit('taphq:*', 5, valid => 'empty')::text$$, ARRAY['valid', 'empty']),
    ('valid [x,x)',              $$SELECT allot.set_limit('taphq:*', 5, valid => '[2026-01-01,2026-01-01)')::text$$, ARRAY['valid', 'empty']),
    ('valid (x,x]',              $$SELECT allot.set_limit('taphv:*', 5, valid => '(2026-01-01,2026-01-01]')::text$$, ARRAY['valid', 'empty']),
    ('mode bogus',               $$SELECT allot.set_limit('taphv:*', 5, mode => 'bogus')::text$$, ARRAY['mode', 'bogus']),
    ('mode Enforce',             $$SELECT allot.set_limit('taphv:*', 5, mode => 'Enforce')::text$$, ARRAY['mode', 'Enforce']),
    ('mode with a trailing space', $$SELECT allot.set_limit('taphv:*', 5, mode => 'enforce ')::text$$, ARRAY['mode']),
    ('mode empty',               $$SELECT allot.set_limit('taphv:*', 5, mode => '')::text$$, ARRAY['mode']),
    ('mode is SQL injection',    $$SELECT allot.set_limit('taphv:*', 5, mode => $m$shadow'); DELETE FROM allot.limits; --$m$)::text$$, ARRAY['mode', 'DELETE FROM']),
    ('mode with a newline',      $$SELECT allot.set_limit('taphv:*', 5, mode => E'shadow\n')::text$$, ARRAY['mode']),
    ('mode %s %n',               $$SELECT allot.set_limit('taphv:*', 5, mode => '%s %n')::text$$, ARRAY['mode', '%s %n']),
    ('max 0 and a bad mode',     $$SELECT allot.set_limit('taphv:*', 0, mode => 'x')::text$$, NULL)
  ) AS t(what, sql, needles);
END $do$;

DO $do$ BEGIN
PERFORM pg_temp.try_call('drop_limit', 'drop_limit', t.what, t.expect, t.sql, t.needles)
  FROM (VALUES
    ('a per that no limit has (nothing dropped)', 'ok', $$SELECT allot.drop_limit('taphv:*', '-1 day')::text$$, NULL::text[]),
    ('a huge per (nothing dropped)', 'ok', $$SELECT allot.drop_limit('taphv:*', '178000000 years', true)::text$$, NULL),
    ('a scope without limits', 'ok', $$SELECT allot.drop_limit('taphz:*')::text$$, NULL)
  ) AS t(what, expect, sql, needles);
END $do$;

DO $do$ BEGIN
PERFORM pg_temp.try_call('set_path', 'set_path', t.what, 'reject', t.sql, t.needles)
  FROM (VALUES
    ('path empty',          $$SELECT allot.set_path('taphp:b1', '')$$, ARRAY['path']),
    ('path FAST',           $$SELECT allot.set_path('taphp:b1', 'FAST')$$, ARRAY['path']),
    ('path medium',         $$SELECT allot.set_path('taphp:b1', 'medium')$$, ARRAY['path']),
    ('path with a space',   $$SELECT allot.set_path('taphp:b1', 'slow ')$$, ARRAY['path']),
    ('path with a newline', $$SELECT allot.set_path('taphp:b1', E'slow\n')$$, ARRAY['path']),
    ('path is SQL injection', $$SELECT allot.set_path('taphp:b1', $p$slow'; --$p$)$$, ARRAY['path']),
    ('a class as the key',  $$SELECT allot.set_path('taphp:*', 'slow')$$, ARRAY['taphp:*', 'class'])
  ) AS t(what, sql, needles);
END $do$;

DO $do$ BEGIN
PERFORM pg_temp.try_call('archive', t.fn, t.what, t.expect, t.sql, t.needles, t.allowed)
  FROM (VALUES
    ('archive_events', 'replay_window -1 day', 'reject', $$SELECT allot.archive_events('-1 day')::text$$, ARRAY['replay_window'], ARRAY['22023']),
    ('archive_events', 'replay_window -1 microsecond', 'reject', $$SELECT allot.archive_events('-1 microsecond')::text$$, ARRAY['replay_window'], ARRAY['22023']),
    ('archive_events', 'replay_window 1 day -25 hours', 'reject', $$SELECT allot.archive_events('1 day -25 hours')::text$$, ARRAY['replay_window'], ARRAY['22023']),
    ('archive_events', 'replay_window -178000000 years', 'reject', $$SELECT allot.archive_events('-178000000 years')::text$$, ARRAY['replay_window'], ARRAY['22023']),
    -- a window longer than time itself: archives nothing, or is refused as a bad replay_window
    ('archive_events', 'replay_window 178000000 years', 'either', $$SELECT allot.archive_events('178000000 years')::text$$, ARRAY['replay_window'], ARRAY['22023']),
    ('drop_archived_events', 'older_than -1 day', 'reject', $$SELECT count(*)::text FROM allot.drop_archived_events('-1 day')$$, ARRAY['older_than'], ARRAY['22023']),
    ('drop_archived_events', 'older_than -178000000 years', 'reject', $$SELECT count(*)::text FROM allot.drop_archived_events('-178000000 years')$$, ARRAY['older_than'], ARRAY['22023']),
    ('drop_archived_events', 'older_than 178000000 years', 'either', $$SELECT count(*)::text FROM allot.drop_archived_events('178000000 years')$$, ARRAY['older_than'], ARRAY['22023'])
  ) AS t(fn, what, expect, sql, needles, allowed);
END $do$;

-------------------------------------------------------------------------------
-- 7. Wholly malformed requests for redeem_many.
-------------------------------------------------------------------------------
DO $do$ BEGIN
PERFORM pg_temp.try_call('json_whole', 'redeem_many', t.what, 'reject', t.sql, t.needles)
  FROM (VALUES
    ('JSON null',          $$SELECT count(*)::text FROM allot.redeem_many('null')$$, ARRAY['array']),
    ('an object',          $$SELECT count(*)::text FROM allot.redeem_many('{}')$$, ARRAY['array']),
    ('one request, not in an array', $$SELECT count(*)::text FROM allot.redeem_many('{"txn": "00000000-0000-4000-8000-00000000a301", "keys": ["taphv:j1"]}')$$, ARRAY['array']),
    ('a string',           $$SELECT count(*)::text FROM allot.redeem_many('"[]"')$$, ARRAY['array']),
    ('a number',           $$SELECT count(*)::text FROM allot.redeem_many('12345')$$, ARRAY['array']),
    ('true',               $$SELECT count(*)::text FROM allot.redeem_many('true')$$, ARRAY['array']),
    ('10,001 items',       $$SELECT count(*)::text FROM allot.redeem_many((SELECT jsonb_agg(jsonb_build_object('txn', md5('j' || i)::uuid, 'keys', jsonb_build_array('taphv:j2'))) FROM generate_series(1, 10001) i))$$, ARRAY['10001', '10000']),
    ('100,000 numbers',    $$SELECT count(*)::text FROM allot.redeem_many((SELECT jsonb_agg(i) FROM generate_series(1, 100000) i))$$, ARRAY['100000', '10000']),
    ('broken JSON [{',     $$SELECT count(*)::text FROM allot.redeem_many('[{')$$, ARRAY['json']),
    ('broken JSON {"txn": }', $$SELECT count(*)::text FROM allot.redeem_many('[{"txn": }]')$$, ARRAY['json']),
    ('trailing garbage',   $$SELECT count(*)::text FROM allot.redeem_many('[] x')$$, ARRAY['json']),
    ('NaN',                $$SELECT count(*)::text FROM allot.redeem_many('[{"txn": "00000000-0000-4000-8000-00000000a302", "keys": ["taphv:j1"], "amount": NaN}]')$$, ARRAY['json'])
  ) AS t(what, sql, needles);
END $do$;

-- Garbage inside a well-formed array: every item refused on its own row.
INSERT INTO batch_spec (section, batch, idx, item, expect, needles)
SELECT 'json_whole', 'garbage items', n - 1, t.item, 'bad', t.needles
  FROM (SELECT v.*, row_number() OVER () AS n FROM (VALUES
    ('"a string"'::jsonb, ARRAY['object']),
    ('42', ARRAY['object']),
    ('123456789012345678901234567890', ARRAY['object']),
    ('null', ARRAY['object']),
    ('true', ARRAY['object']),
    ('[]', ARRAY['object']),
    ('{}', ARRAY['txn']),
    ((SELECT repeat('[', 1000) || repeat(']', 1000))::jsonb, ARRAY['object']),
    ('{"txn": "00000000-0000-4000-8000-00000000a303", "keys": [[["taphv:j1"]]]}', ARRAY['keys']),
    ('{"txn": "00000000-0000-4000-8000-00000000a304", "keys": {"0": "taphv:j1"}}', ARRAY['keys']),
    ('{"txn": "00000000-0000-4000-8000-00000000a305", "keys": "taphv:j1"}', ARRAY['keys']),
    ('{"txn": "00000000-0000-4000-8000-00000000a306", "keys": [1, 2]}', ARRAY['keys']),
    ('{"txn": "00000000-0000-4000-8000-00000000a307", "keys": [null]}', ARRAY['keys']),
    ('{"txn": "00000000-0000-4000-8000-00000000a308", "keys": []}', ARRAY['keys']),
    ('{"txn": "00000000-0000-4000-8000-00000000a309"}', ARRAY['keys']),
    ('{"txn": "00000000-0000-4000-8000-00000000a30a", "keys": ["taphv:j1"], "amount": "1"}', ARRAY['amount']),
    ('{"txn": "00000000-0000-4000-8000-00000000a30b", "keys": ["taphv:j1"], "amount": 1.5}', ARRAY['amount']),
    ('{"txn": "00000000-0000-4000-8000-00000000a30c", "keys": ["taphv:j1"], "amount": 1e-300}', ARRAY['amount']),
    ('{"txn": "00000000-0000-4000-8000-00000000a30d", "keys": ["taphv:j1"], "amount": 123456789012345678901234567890}', ARRAY['amount']),
    ('{"txn": "00000000-0000-4000-8000-00000000a30e", "keys": ["taphv:j1"], "amount": -123456789012345678901234567890}', ARRAY['amount']),
    ('{"txn": "00000000-0000-4000-8000-00000000a30f", "keys": ["taphv:j1"], "amount": 9223372036854775808}', ARRAY['amount']),
    ('{"txn": "00000000-0000-4000-8000-00000000a310", "keys": ["taphv:j1"], "amount": -9223372036854775808}', ARRAY['amount']),
    ('{"txn": "00000000-0000-4000-8000-00000000a311", "keys": ["taphv:j1"], "amount": 0}', ARRAY['amount']),
    ('{"txn": "00000000-0000-4000-8000-00000000a312", "keys": ["taphv:j1"], "amount": true}', ARRAY['amount']),
    ('{"txn": "00000000-0000-4000-8000-00000000a313", "keys": ["taphv:j1"], "amount": [1]}', ARRAY['amount']),
    ('{"txn": "00000000-0000-4000-8000-00000000a314", "keys": ["taphv:j1"], "amount": {"n": 1}}', ARRAY['amount']),
    ('{"txn": "00000000-0000-4000-8000-00000000a315", "keys": ["taphv:j1"], "colour": "red"}', ARRAY['colour']),
    ('{"txn": "00000000-0000-4000-8000-00000000a316", "keys": ["taphv:j1"], "Amount": 1}', ARRAY['Amount']),
    ('{"TXN": "00000000-0000-4000-8000-00000000a317", "keys": ["taphv:j1"]}', ARRAY['TXN']),
    ('{"txn": "00000000-0000-4000-8000-00000000a318", "keys": ["taphv:j1"], "\u0001''; --": 1}', ARRAY['--'])
  ) AS v(item, needles)) AS t;
INSERT INTO batch_spec (section, batch, idx, item, expect)
VALUES ('json_whole', 'garbage items', (SELECT count(*) FROM batch_spec WHERE section = 'json_whole'),
        '{"txn": "00000000-0000-4000-8000-00000000a3ff", "keys": ["taphok:j9"], "amount": null}', 'ok');
DO $do$ BEGIN PERFORM pg_temp.run_batch('json_whole', 'garbage items'); END $do$;

INSERT INTO fingerprints VALUES ('after the rejected calls', pg_temp.fingerprint());

-------------------------------------------------------------------------------
-- 8. Numbers beyond the range of a double inside an item. The JSON is valid
-- (PostgreSQL accepted it as jsonb), so such an item is a bad item like any
-- other (API.md: "one ... bad item does not stop the others").
-------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.batch_shape(requests jsonb) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
  r text;
BEGIN
  SELECT string_agg(d.idx || CASE WHEN d.error IS NOT NULL THEN ':error' WHEN d.replayed THEN ':replayed'
                                   WHEN d.granted THEN ':granted' ELSE ':denied' END, ' ' ORDER BY d.idx)
    INTO r FROM allot.redeem_many(requests) d;
  RETURN r;
EXCEPTION WHEN OTHERS THEN
  RETURN 'the whole call failed: ' || SQLSTATE || ' ' || SQLERRM;
END
$f$;

SELECT is(pg_temp.batch_shape('[{"txn": "00000000-0000-4000-8000-00000000a401", "keys": ["taphv:h1"], "amount": 1e309},
                                {"txn": "00000000-0000-4000-8000-00000000a402", "keys": ["taphv:h1"]}]'),
          '0:error 1:granted',
          'redeem_many: an amount beyond double range (1e309) is a bad item; the next item is still decided');
SELECT is(pg_temp.batch_shape('[[1e400], {"txn": "00000000-0000-4000-8000-00000000a403", "keys": ["taphv:h1"]}]'),
          '0:error 1:granted',
          'redeem_many: an item [1e400] is a bad item (not an object); the next item is still decided');
SELECT is(pg_temp.batch_shape('[{"txn": "00000000-0000-4000-8000-00000000a404", "keys": ["taphv:h1"], "amount": 1e308},
                                {"txn": "00000000-0000-4000-8000-00000000a405", "keys": ["taphv:h1"]}]'),
          '0:error 1:granted',
          'redeem_many: an amount of 1e308 is a bad item; the next item is still decided');
SELECT is(pg_temp.batch_shape('[{"txn": 1e400, "keys": ["taphv:h1"]},
                                {"txn": "00000000-0000-4000-8000-00000000a406", "keys": ["taphv:h1", 1e400]},
                                {"txn": "00000000-0000-4000-8000-00000000a407", "keys": ["taphv:h1"], "colour": 1e400},
                                {"txn": "00000000-0000-4000-8000-00000000a408", "keys": ["taphv:h1"], "amount": -1e400},
                                {"txn": "00000000-0000-4000-8000-00000000a409", "keys": ["taphv:h1"], "amount": [[1e400]]},
                                1e400,
                                {"txn": "00000000-0000-4000-8000-00000000a40a", "keys": ["taphv:h1"]}]'),
          '0:error 1:error 2:error 3:error 4:error 5:error 6:granted',
          'redeem_many: a number beyond double range as txn, key, unknown field, negative amount, nested, or item: each a bad item; the last item is still decided');

-- allot.set_path called again for the same key in one transaction (this
-- whole file is one): the last call wins, at once; never a wait for our
-- own transaction (55P03 after ~10 s) nor a refusal. The key is then
-- redeemed in the same transaction, also at once.
DO $do$ BEGIN
PERFORM pg_temp.try_call('set_path', 'set_path', t.what,
                         CASE WHEN t.path = 'fast' AND NOT allot._preloaded() THEN 'prereq' ELSE 'ok' END,
                         format('SELECT allot.set_path(%L, %L)', t.k, t.path),
                         CASE WHEN t.path = 'fast' AND NOT allot._preloaded() THEN ARRAY['shared_preload_libraries'] END)
  FROM (VALUES (1, 'taphp:twice', 'slow', 'a key moved twice in one transaction (1: slow)'),
               (2, 'taphp:twice', 'slow', 'a key moved twice in one transaction (2: slow again)'),
               (3, 'taphp:twice', 'fast', 'a key moved twice in one transaction (3: fast)'),
               (4, 'taphp:twice', 'slow', 'a key moved twice in one transaction (4: slow)')) AS t(n, k, path, what)
 ORDER BY t.n;
PERFORM pg_temp.try_call('set_path', 'redeem', 'a key moved in this transaction, redeemed in it', 'ok',
                         $$SELECT (allot.redeem('00000000-0000-4000-8000-00000000a410', ARRAY['taphp:twice'])).granted::text$$);
END $do$;

-- A txn granted by an earlier call, sent again inside a batch: a replay
-- consumes nothing (API.md: "a granted txn is never counted twice"), and an
-- item refused because its txn was granted with other keys consumes
-- nothing either; so the items after them see all the room that is left.
-- taphd:* allows 2 per key.
DO $do$ BEGIN
  PERFORM allot.redeem('00000000-0000-4000-8000-00000000a801', ARRAY['taphd:1']);
END $do$;
SELECT is(pg_temp.batch_shape('[{"txn": "00000000-0000-4000-8000-00000000a801", "keys": ["taphd:1"]},
                                {"txn": "00000000-0000-4000-8000-00000000a802", "keys": ["taphd:1"]}]'),
          '0:replayed 1:granted',
          'redeem_many: replaying a txn granted by an earlier call consumes nothing: the next item gets the unit left');
SELECT is(pg_temp.batch_shape('[{"txn": "00000000-0000-4000-8000-00000000a801", "keys": ["taphd:2"]},
                                {"txn": "00000000-0000-4000-8000-00000000a801", "keys": ["taphd:1"]}]'),
          '0:error 1:replayed',
          'redeem_many: a txn granted earlier, sent with other keys and then with its own: refused, then replayed');
SELECT is(pg_temp.batch_shape('[{"txn": "00000000-0000-4000-8000-00000000a801", "keys": ["taphd:3"]},
                                {"txn": "00000000-0000-4000-8000-00000000a803", "keys": ["taphd:3"]},
                                {"txn": "00000000-0000-4000-8000-00000000a804", "keys": ["taphd:3"]}]'),
          '0:error 1:granted 2:granted',
          'redeem_many: an item refused because its txn was granted earlier with other keys consumes nothing');

-------------------------------------------------------------------------------
-- 9. Valid but unusual input: accepted, and stored byte for byte.
-------------------------------------------------------------------------------
CREATE TEMP TABLE odd_keys (id serial PRIMARY KEY, what text, k text, expect text);
INSERT INTO odd_keys (what, k, expect) VALUES
  ('combining accent',          E'taphv:e\u0301', 'ok'),
  ('precomposed é',             E'taphv:\u00e9', 'ok'),
  ('emoji',                     'taphv:😀', 'ok'),
  ('ZWJ family emoji',          E'taphv:\U0001F468\u200D\U0001F469\u200D\U0001F467', 'ok'),
  ('flag',                      'taphv:🇩🇪', 'ok'),
  ('CJK',                       'taphv:漢字', 'ok'),
  ('Arabic',                    'taphv:مرحبا', 'ok'),
  ('32 emoji (128 bytes)',      'taphv:' || repeat('😀', 32), 'ok'),
  ('64 x é (128 bytes)',        'taphv:' || repeat('é', 64), 'ok'),
  ('4 segments of 61 bytes',    'taphv:' || repeat('a', 55) || '/taphu:' || repeat('b', 54) || '/taphx:' || repeat('c', 54)
                                || '/taphy:' || repeat('d', 62), 'ok'),
  ('a space as the id',         'taphv: ', 'ok'),
  ('trailing space in the id',  'taphv:a ', 'ok'),
  ('SQL injection as the id',   $k$taphv:'; DROP TABLE allot.events; --$k$, 'ok'),
  ('dollar quotes',             'taphv:$$', 'ok'),
  ('a backslash',               E'taphv:\\', 'ok'),
  ('backslash and quote',       E'taphv:\\"', 'ok'),
  ('format directives',         'taphv:%s %n %x', 'ok'),
  ('array syntax',              'taphv:{a,b}', 'ok'),
  ('NULL as text',              'taphv:NULL', 'ok'),
  ('JSON as text',              'taphv:{"counted", []}', 'ok'),
  ('an id of *x',               'taphv:*x', 'ok'),
  ('upper case id',             'taphv:A', 'ok'),
  ('lower case id',             'taphv:a', 'ok'),
  -- format characters and noncharacters: printable or not is debatable;
  -- either accepted byte for byte or refused with 22023 naming the key
  ('RTL mark',                  E'taphv:a\u200fb', 'either'),
  ('RTL override',              E'taphv:\u202etxt.exe', 'either'),
  ('zero-width space',          E'taphv:a\u200bb', 'either'),
  ('BOM',                       E'taphv:\ufeffx', 'either'),
  ('no-break space',            E'taphv:\u00a0', 'either'),
  ('line separator',            E'taphv:a\u2028b', 'either'),
  ('noncharacter U+FFFE',       E'taphv:\ufffe', 'either'),
  ('last code point U+10FFFF',  E'taphv:\U0010FFFF', 'either');

DO $do$
DECLARE
  o record;
BEGIN
  FOR o IN SELECT * FROM odd_keys ORDER BY id LOOP
    PERFORM pg_temp.try_call('odd_keys', 'redeem', o.what, o.expect,
              format('SELECT (allot.redeem(%L, ARRAY[%L])).granted::text', md5('odd' || o.id)::uuid, o.k),
              ARRAY[left(o.k, 9)], ARRAY['22023']);
  END LOOP;
END
$do$;

-- Keys differing only in case or in Unicode normalisation are different keys.
DO $do$ BEGIN
PERFORM pg_temp.try_call('odd_keys', 'redeem', t.what, 'ok', t.sql)
  FROM (VALUES
    ('keys differing only in case', $$SELECT (allot.redeem('00000000-0000-4000-8000-00000000a501', ARRAY['taphv:Case', 'taphv:case'])).granted::text$$),
    ('keys differing only in normalisation', $$SELECT (allot.redeem('00000000-0000-4000-8000-00000000a502', ARRAY[E'taphv:n\u00e9', E'taphv:ne\u0301'])).granted::text$$),
    ('an array with lower bound 0', $$SELECT (allot.redeem('00000000-0000-4000-8000-00000000a503', '[0:1]={taphv:lb1,taphv:lb2}'::text[])).granted::text$$),
    ('an array with lower bound 100', $$SELECT count(*)::text FROM allot.can_redeem('[100:100]={taphv:lb1}'::text[])$$)
  ) AS t(what, sql);
END $do$;

SELECT is_empty($$
  SELECT o.what, o.k, e.keys
    FROM odd_keys o
    JOIN hostile_calls c ON c.section = 'odd_keys' AND c.what = o.what AND c.state IS NULL
    LEFT JOIN allot.events e ON e.txn = md5('odd' || o.id)::uuid AND e.kind = 'grant'
   WHERE e.keys IS DISTINCT FROM ARRAY[o.k]
      OR NOT EXISTS (SELECT 1 FROM allot.usage u WHERE u.key = o.k AND u.used = 1 AND u.max = 1000)
      OR NOT EXISTS (SELECT 1 FROM allot.can_redeem(ARRAY[o.k]) r WHERE r.key = o.k AND r.remaining = 999)
$$, 'odd but valid keys are granted, logged, counted and reported by can_redeem byte for byte');

SELECT is_empty($$
  SELECT k, count(*) FROM (SELECT unnest(keys) AS k FROM allot.events
                            WHERE txn IN ('00000000-0000-4000-8000-00000000a501', '00000000-0000-4000-8000-00000000a502')) s
   GROUP BY k HAVING count(*) <> 1
  UNION ALL
  SELECT 'counted windows', count(*) FROM allot.events e, jsonb_array_elements(e.detail->'counted') c
   WHERE e.txn IN ('00000000-0000-4000-8000-00000000a501', '00000000-0000-4000-8000-00000000a502')
  HAVING count(*) <> 4
$$, 'keys that differ only in case or normalisation are counted apart');

-------------------------------------------------------------------------------
-- 10. Extreme valid amounts, shadow overflow, txn reuse (23505).
-------------------------------------------------------------------------------
DO $do$ BEGIN
PERFORM pg_temp.try_call('extremes', t.fn, t.what, t.expect, t.sql, t.needles, t.allowed)
  FROM (VALUES
    ('redeem', 'int8 max on a limited key', 'ok',
     $$SELECT (d.granted, d.replayed, d.denied_keys, d.retry_after)::text FROM allot.redeem('00000000-0000-4000-8000-00000000a601', ARRAY['taphv:big'], 9223372036854775807) d$$, NULL::text[], NULL::text[]),
    ('can_redeem', 'int8 max on a limited key', 'ok',
     $$SELECT string_agg((r.allowed, r.remaining, r.retry_after)::text, ';') FROM allot.can_redeem(ARRAY['taphv:big'], 9223372036854775807) r$$, NULL, NULL),
    ('redeem', 'the whole limit at once', 'ok',
     $$SELECT (allot.redeem('00000000-0000-4000-8000-00000000a602', ARRAY['taphv:big2'], 1000)).granted::text$$, NULL, NULL),
    ('redeem', 'one more after the whole limit', 'ok',
     $$SELECT (d.granted, d.denied_keys)::text FROM allot.redeem('00000000-0000-4000-8000-00000000a603', ARRAY['taphv:big2'], 1) d$$, NULL, NULL),
    ('redeem', 'int8 max on an unlimited key', 'ok',
     $$SELECT (allot.redeem('00000000-0000-4000-8000-00000000a604', ARRAY['taphu:big'], 9223372036854775807)).granted::text$$, NULL, NULL),
    ('redeem', 'int8 max again on the unlimited key', 'ok',
     $$SELECT (allot.redeem('00000000-0000-4000-8000-00000000a605', ARRAY['taphu:big'], 9223372036854775807)).granted::text$$, NULL, NULL),
    ('redeem', 'int8 max on a shadow limit (never denies)', 'ok',
     $$SELECT (allot.redeem('00000000-0000-4000-8000-00000000a606', ARRAY['taphs:big'], 9223372036854775807)).granted::text$$, NULL, NULL),
    ('redeem', 'one more on the full shadow limit, with a fast key', 'reject',
     $$SELECT (allot.redeem('00000000-0000-4000-8000-00000000a607', ARRAY['taphv:sh', 'taphs:big'], 1)).granted::text$$,
     ARRAY['taphs:big', 'overflow'], ARRAY['22003', '22023']),
    ('redeem', 'a grant to reuse', 'ok',
     $$SELECT (allot.redeem('00000000-0000-4000-8000-00000000a608', ARRAY['taphv:re1', 'taphv:re2'], 2)).granted::text$$, NULL, NULL),
    ('redeem', 'the same txn, same keys in another order: a replay', 'ok',
     $$SELECT (d.granted, d.replayed)::text FROM allot.redeem('00000000-0000-4000-8000-00000000a608', ARRAY['taphv:re2', 'taphv:re1'], 2) d$$, NULL, NULL),
    ('redeem', 'the same txn with another key', 'conflict',
     $$SELECT (allot.redeem('00000000-0000-4000-8000-00000000a608', ARRAY['taphv:re1'], 2)).granted::text$$,
     ARRAY['00000000-0000-4000-8000-00000000a608'], NULL),
    ('redeem', 'the same txn with another amount', 'conflict',
     $$SELECT (allot.redeem('00000000-0000-4000-8000-00000000a608', ARRAY['taphv:re1', 'taphv:re2'], 9223372036854775807)).granted::text$$,
     ARRAY['00000000-0000-4000-8000-00000000a608'], NULL)
  ) AS t(fn, what, expect, sql, needles, allowed);
END $do$;

SELECT results_eq($$
  SELECT what, result FROM hostile_calls WHERE section = 'extremes' AND state IS NULL ORDER BY id
$$, $$VALUES
  ('int8 max on a limited key', '(f,f,{taphv:big},)'),
  ('int8 max on a limited key', '(f,1000,)'),
  ('the whole limit at once', 'true'),
  ('one more after the whole limit', '(f,{taphv:big2})'),
  ('int8 max on an unlimited key', 'true'),
  ('int8 max again on the unlimited key', 'true'),
  ('int8 max on a shadow limit (never denies)', 'true'),
  ('a grant to reuse', 'true'),
  ('the same txn, same keys in another order: a replay', '(t,t)')
$$, 'extreme amounts: int8 max is denied on a limited key (no retry_after), granted where nothing limits it; exactly max is granted, one more denied');

SELECT is((SELECT used FROM allot.usage WHERE key = 'taphv:sh'), NULL,
          'the shadow overflow consumed nothing on the other key of its request (taphv:sh)');

-------------------------------------------------------------------------------
-- 11. Hostile reasons for reverse: stored verbatim, they cannot forge the
-- log's JSON.
-------------------------------------------------------------------------------
CREATE TEMP TABLE reasons (id serial PRIMARY KEY, reason text);
INSERT INTO reasons (reason) VALUES
  ($r$'; DROP TABLE allot.events; --$r$), ('$$'), (E'\\'), (E'\\"\\'), ('%s %n %x %%'),
  (E'tab\there\nnewline\rcr'), (E'\u0001\u001f\u007f control'),
  ('"}], "counted": [["taphv:forged", 1, "-infinity"]], "x": "'),
  (E'\u202eRTL \u200f mark'), ('مرحبا 漢字 😀'), (repeat('😀', 10000)), (''), ('null');
DO $do$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT * FROM reasons ORDER BY id LOOP
    PERFORM pg_temp.try_call('reasons', 'redeem', 'grant to reverse ' || r.id, 'ok',
              format('SELECT (allot.redeem(%L, ARRAY[''taphv:rev'', %L])).granted::text',
                     md5('rs' || r.id)::uuid, 'taphv:rev' || r.id));
    PERFORM pg_temp.try_call('reasons', 'reverse', 'reverse with reason ' || r.id, 'ok',
              format('SELECT allot.reverse(%L, %L)::text', md5('rs' || r.id)::uuid, r.reason),
              NULL, ARRAY['22023']);
  END LOOP;
END
$do$;

SELECT is_empty($$
  SELECT r.id, t.reverse_reason, r.reason
    FROM reasons r LEFT JOIN allot.txns t ON t.txn = md5('rs' || r.id)::uuid
   WHERE t.reverse_reason IS DISTINCT FROM r.reason
      OR t.reversed_at IS NULL
$$, 'reverse stores hostile reasons verbatim (quotes, backslashes, control characters, JSON, 40 kB)');

SELECT is_empty($$
  SELECT e.txn, e.detail FROM allot.events e
   WHERE e.kind = 'reverse' AND e.txn IN (SELECT md5('rs' || id)::uuid FROM reasons)
     AND (jsonb_array_length(e.detail->'counted') <> 2
          OR e.detail::text LIKE '%taphv:forged%' AND e.detail->>'reason' NOT LIKE '%taphv:forged%'
          OR EXISTS (SELECT 1 FROM jsonb_array_elements(e.detail->'counted') c WHERE c->>0 = 'taphv:forged'))
$$, 'a reason cannot add or change what a reversal counted');

-------------------------------------------------------------------------------
-- 12. redeem_many: 10,000 items, about half of them bad in 18 ways, plus
-- replays and txns reused with other keys. Good items redeem one unit of
-- taphb:0..36 (100 each).
-------------------------------------------------------------------------------
INSERT INTO batch_spec (section, batch, idx, item, expect, needles, ref_idx, bkey, amount)
SELECT 'batch', '10000 items', i,
       CASE m
         WHEN 22 THEN jsonb_build_object('txn', md5('b' || i)::uuid, 'keys', jsonb_build_array('Taphb:' || i))
         WHEN 23 THEN jsonb_build_object('txn', md5('b' || i)::uuid, 'keys', jsonb_build_array(key), 'amount', 0)
         WHEN 24 THEN jsonb_build_object('txn', md5('b' || i)::uuid, 'keys', jsonb_build_array(key), 'amount', -5)
         WHEN 25 THEN jsonb_build_object('txn', md5('b' || i)::uuid, 'keys', jsonb_build_array(key), 'amount', '1')
         WHEN 26 THEN jsonb_build_object('txn', md5('b' || i)::uuid, 'keys', jsonb_build_array(key), 'amount', 1.5)
         WHEN 27 THEN jsonb_build_object('keys', jsonb_build_array(key))
         WHEN 28 THEN jsonb_build_object('txn', i, 'keys', jsonb_build_array(key))
         WHEN 29 THEN jsonb_build_object('txn', 'not-a-uuid-' || i, 'keys', jsonb_build_array(key))
         WHEN 30 THEN jsonb_build_object('txn', md5('b' || i)::uuid, 'keys', key)
         WHEN 31 THEN jsonb_build_object('txn', md5('b' || i)::uuid, 'keys', jsonb_build_array(1, 2))
         WHEN 32 THEN jsonb_build_object('txn', md5('b' || i)::uuid, 'keys', '[]'::jsonb)
         WHEN 33 THEN jsonb_build_object('txn', md5('b' || i)::uuid, 'keys', '[null]'::jsonb)
         WHEN 34 THEN to_jsonb('item ' || i)
         WHEN 35 THEN jsonb_build_object('txn', md5('b' || i)::uuid, 'keys', jsonb_build_array(key), 'colour', 'red')
         WHEN 36 THEN jsonb_build_object('txn', md5('b' || i)::uuid,
                                         'keys', (SELECT jsonb_agg('taphb:x' || j) FROM generate_series(1, 17) j))
         WHEN 37 THEN jsonb_build_object('txn', md5('b' || i)::uuid, 'keys', jsonb_build_array(key, key))
         WHEN 38 THEN jsonb_build_object('txn', md5('b' || i)::uuid, 'keys', jsonb_build_array(E'taphb:a\tb'), 'amount', 1)
         WHEN 39 THEN jsonb_build_object('txn', md5('b' || i)::uuid, 'keys', jsonb_build_array(key), 'amount', true)
         -- 20: the txn and keys of item i-1 (a replay if that was granted)
         WHEN 20 THEN jsonb_build_object('txn', md5('b' || (i - 1))::uuid, 'keys', jsonb_build_array('taphb:' || ((i - 1) % 37)))
         -- 21: the txn of item i-2 with another key (refused if that was granted)
         WHEN 21 THEN jsonb_build_object('txn', md5('b' || (i - 2))::uuid, 'keys', jsonb_build_array('taphb:other'))
         -- good items, in the spellings of a txn and an amount that are accepted
         WHEN 0 THEN jsonb_build_object('txn', upper(md5('b' || i)::uuid::text), 'keys', jsonb_build_array(key), 'amount', NULL)
         WHEN 1 THEN jsonb_build_object('txn', '{' || md5('b' || i)::uuid || '}', 'keys', jsonb_build_array(key))
         WHEN 2 THEN jsonb_build_object('txn', md5('b' || i), 'keys', jsonb_build_array(key), 'amount', 1)
         ELSE jsonb_build_object('txn', md5('b' || i)::uuid, 'keys', jsonb_build_array(key), 'amount', 1)
       END,
       CASE WHEN m = 20 THEN 'dup_same' WHEN m = 21 THEN 'dup_other' WHEN m >= 22 THEN 'bad' ELSE 'ok' END,
       CASE m
         WHEN 22 THEN ARRAY['Taphb:' || i, 'kind']
         WHEN 23 THEN ARRAY['amount', '0']
         WHEN 24 THEN ARRAY['amount', '-5']
         WHEN 25 THEN ARRAY['amount']
         WHEN 26 THEN ARRAY['amount']
         WHEN 27 THEN ARRAY['txn']
         WHEN 28 THEN ARRAY['txn']
         WHEN 29 THEN ARRAY['txn', 'not-a-uuid-' || i]
         WHEN 30 THEN ARRAY['keys']
         WHEN 31 THEN ARRAY['keys']
         WHEN 32 THEN ARRAY['keys']
         WHEN 33 THEN ARRAY['keys']
         WHEN 34 THEN ARRAY['object']
         WHEN 35 THEN ARRAY['colour']
         WHEN 36 THEN ARRAY['17', '16']
         WHEN 37 THEN ARRAY['duplicate', key]
         WHEN 38 THEN ARRAY['control']
         WHEN 39 THEN ARRAY['amount']
       END,
       CASE m WHEN 20 THEN i - 1 WHEN 21 THEN i - 2 END,
       CASE WHEN m < 20 THEN key END,
       1
  FROM generate_series(0, 9999) AS i,
       LATERAL (SELECT i % 40 AS m, 'taphb:' || (i % 37) AS key) AS x;
DO $do$ BEGIN PERFORM pg_temp.run_batch('batch', '10000 items'); END $do$;

-- The replays and reuses, resolved against what their referenced item got.
UPDATE batch_spec s
   SET expect = CASE WHEN s.expect = 'dup_same' THEN 'ok'
                     WHEN r.granted THEN 'conflict' ELSE 'ok' END,
       expect_replay = CASE WHEN s.expect = 'dup_same' THEN r.granted
                            WHEN r.granted THEN NULL ELSE false END,
       needles = CASE WHEN s.expect = 'dup_other' AND r.granted THEN ARRAY[md5('b' || s.ref_idx)::uuid::text] END
  FROM batch_items r
 WHERE s.section = 'batch' AND s.expect IN ('dup_same', 'dup_other')
   AND (r.section, r.batch, r.idx) = (s.section, s.batch, s.ref_idx);
UPDATE batch_spec SET expect_replay = false
 WHERE section = 'batch' AND expect = 'ok' AND expect_replay IS NULL AND ref_idx IS NULL;

SELECT is((SELECT count(*) || ' rows, idx ' || min(idx) || '..' || max(idx) || ', ' || count(DISTINCT idx) || ' distinct'
             FROM batch_items WHERE section = 'batch'),
          '10000 rows, idx 0..9999, 10000 distinct',
          'redeem_many with 10,000 items (4,500 of them bad) returns one row per item');
SELECT is_empty($$SELECT * FROM item_problems WHERE section = 'batch' AND expect = 'bad' AND problem IS NOT NULL$$,
                'redeem_many: each of the 4,500 bad items gets granted = false and an error naming its problem; nothing else');
SELECT is_empty($$SELECT * FROM item_problems WHERE section = 'batch' AND expect <> 'bad' AND problem IS NOT NULL$$,
                'redeem_many: the valid items among bad ones are decided (no error; replays replay; a granted txn reused with another key is refused on its row)');
SELECT is_empty($$
  SELECT s.bkey, min(s.idx) FILTER (WHERE NOT i.granted) AS first_denied, max(s.idx) FILTER (WHERE i.granted) AS last_granted
    FROM batch_spec s JOIN batch_items i USING (section, batch, idx)
   WHERE s.section = 'batch' AND s.bkey IS NOT NULL AND s.ref_idx IS NULL
   GROUP BY s.bkey
  HAVING min(s.idx) FILTER (WHERE NOT i.granted) < max(s.idx) FILTER (WHERE i.granted)
      OR count(*) FILTER (WHERE i.granted) <> least(100, count(*))
$$, 'redeem_many: items are decided in order: per key, exactly the first 100 valid requests are granted');
SELECT is_empty($$
  SELECT 'event of a bad or refused item', e.txn::text, e.kind FROM allot.events e
   WHERE e.txn IN (SELECT md5('b' || s.idx)::uuid FROM batch_spec s
                    WHERE s.section = 'batch' AND s.expect = 'bad')
  UNION ALL
  SELECT 'grants logged vs. granted', count(*)::text, (SELECT count(*) FROM batch_items i JOIN batch_spec s USING (section, batch, idx)
                                                         WHERE i.section = 'batch' AND i.granted AND NOT i.replayed)::text
    FROM allot.events e WHERE e.kind = 'grant' AND e.keys[1] LIKE 'taphb:%'
  HAVING count(*) <> (SELECT count(*) FROM batch_items i WHERE i.section = 'batch' AND i.granted AND NOT i.replayed)
  UNION ALL
  SELECT 'units counted vs. granted', sum(u.used)::text, NULL FROM allot.usage u WHERE u.key LIKE 'taphb:%'
  HAVING sum(u.used) <> (SELECT count(*) FROM batch_items i WHERE i.section = 'batch' AND i.granted AND NOT i.replayed)
      OR max(u.used) > 100
$$, 'redeem_many: bad items are neither logged nor counted; the log and the usage hold exactly the granted items');

-------------------------------------------------------------------------------
-- 13. Randomized: a few thousand calls built from good and hostile pieces
-- (deterministic: setseed). Expected outcomes are computed from the pieces.
-------------------------------------------------------------------------------
CREATE TEMP TABLE good_keys (id serial PRIMARY KEY, k text);
INSERT INTO good_keys (k) VALUES
  ('taphr:1'), ('taphr:2'), ('taphr:3'), ('taphr:4'), ('taphr:5'), ('taphr:6'), ('taphr:7'), ('taphr:8'),
  ('taphu:1'), ('taphu:2'), ('taphu:3'), ('taphr:1/taphu:1'), ('taphr:2/taphu:1'),
  ('taphw:1'), ('taphw:2'), ('taphl:1'), ('taphl:2'),
  (E'taphr:e\u0301'), ('taphr:😀'), ('taphr:漢字'), ('taphr:مرحبا'),
  ($k$taphr:'; DROP TABLE allot.events; --$k$), ('taphr:$$'), (E'taphr:\\'), ('taphr:%s %n'),
  ('taphr:"q"'), ('taphr:{a,b}'), ('taphr:' || repeat('x', 128));
CREATE TEMP TABLE used_txns (id serial PRIMARY KEY, txn uuid);
CREATE TEMP TABLE granted_txns (txn uuid PRIMARY KEY, keys text[], amount bigint, reversed boolean NOT NULL DEFAULT false);
CREATE TEMP TABLE cur_items (idx integer PRIMARY KEY, expect text, needles text[], txn uuid, keys text[], amount bigint);

CREATE FUNCTION pg_temp.sorted(a text[]) RETURNS text[] LANGUAGE sql IMMUTABLE AS
  $f$ SELECT ARRAY(SELECT x FROM unnest(a) x ORDER BY x COLLATE "C") $f$;

CREATE FUNCTION pg_temp.rnd(n integer) RETURNS integer LANGUAGE sql AS
  $f$ SELECT 1 + floor(random() * n)::integer $f$;

-- keys for a request; problems counts what is wrong with them, and needles
-- are the words the message must contain when exactly one thing is.
CREATE FUNCTION pg_temp.gen_keys(OUT keys text[], OUT problems integer, OUT needles text[])
LANGUAGE plpgsql AS $f$
DECLARE
  r float8 := random();
  n integer;
  k text;
  b record;
  ngood integer := (SELECT count(*) FROM good_keys);
  nbad integer := (SELECT count(*) FROM bad_keys);
BEGIN
  problems := 0;
  IF r < 0.02 THEN
    keys := NULL; problems := 1; needles := ARRAY['keys']; RETURN;
  END IF;
  n := CASE WHEN r < 0.04 THEN 0 WHEN r < 0.93 THEN pg_temp.rnd(4)
            WHEN r < 0.97 THEN 4 + pg_temp.rnd(12) ELSE 16 + pg_temp.rnd(4) END;
  keys := ARRAY[]::text[];
  FOR i IN 1..n LOOP
    r := random();
    IF r < 0.86 THEN
      k := (SELECT g.k FROM good_keys g WHERE g.id = (SELECT pg_temp.rnd(ngood)));
    ELSIF r < 0.94 THEN
      SELECT * INTO b FROM bad_keys WHERE id = (SELECT pg_temp.rnd(nbad));
      k := b.k; problems := problems + 1; needles := b.needles;
    ELSIF r < 0.97 THEN
      k := NULL; problems := problems + 1; needles := ARRAY['NULL'];
    ELSIF i > 1 THEN
      k := keys[pg_temp.rnd(i - 1)];  -- a duplicate, counted below
    ELSE
      k := 'taphr:1';
    END IF;
    keys := array_append(keys, k);
  END LOOP;
  IF n = 0 THEN problems := problems + 1; needles := ARRAY['keys', 'empty']; END IF;
  IF n > 16 THEN problems := problems + 1; needles := ARRAY['keys', '16']; END IF;
  IF (SELECT count(x) <> count(DISTINCT x COLLATE "C") FROM unnest(keys) x) THEN
    problems := problems + 1; needles := ARRAY['duplicate'];
  END IF;
END
$f$;

CREATE FUNCTION pg_temp.gen_amount(OUT amount bigint, OUT problems integer, OUT needles text[])
LANGUAGE plpgsql AS $f$
DECLARE
  r float8 := random();
BEGIN
  amount := CASE WHEN r < 0.70 THEN 1 WHEN r < 0.80 THEN 1 + pg_temp.rnd(6) WHEN r < 0.84 THEN 1000
                 WHEN r < 0.87 THEN 9223372036854775807 WHEN r < 0.90 THEN 0
                 WHEN r < 0.93 THEN -pg_temp.rnd(1000) WHEN r < 0.95 THEN -9223372036854775808
                 WHEN r < 0.97 THEN -9223372036854775807 ELSE NULL END;
  problems := CASE WHEN amount IS NULL OR amount <= 0 THEN 1 ELSE 0 END;
  needles := CASE WHEN amount IS NULL THEN ARRAY['amount'] WHEN amount <= 0 THEN ARRAY['amount', amount::text] END;
END
$f$;

-- NULL, a fresh txn, or one used before (replays, conflicts).
CREATE FUNCTION pg_temp.gen_txn(p_null_share float8 DEFAULT 0.04) RETURNS uuid LANGUAGE plpgsql AS $f$
DECLARE
  r float8 := random();
  t uuid;
  n integer := (SELECT count(*) FROM used_txns);
BEGIN
  IF r < p_null_share THEN RETURN NULL; END IF;
  IF r < 0.60 OR n = 0 THEN
    t := md5(random()::text)::uuid;
    INSERT INTO used_txns (txn) VALUES (t);
    RETURN t;
  END IF;
  RETURN (SELECT u.txn FROM used_txns u WHERE u.id = (SELECT pg_temp.rnd(n)));
END
$f$;

-- What a valid request of txn for keys/amount must get, given the txns
-- granted so far: 'fresh', 'replay' or 'conflict'.
CREATE FUNCTION pg_temp.txn_outcome(p_txn uuid, p_keys text[], p_amount bigint) RETURNS text
LANGUAGE sql AS $f$
  SELECT CASE WHEN g.txn IS NULL THEN 'fresh'
              WHEN g.keys = pg_temp.sorted(p_keys) AND g.amount = p_amount THEN 'replay'
              ELSE 'conflict' END
    FROM (SELECT 1) one LEFT JOIN granted_txns g ON g.txn = p_txn
$f$;

-- A granted txn again, with its keys in a random order (a replay).
CREATE FUNCTION pg_temp.a_granted_txn(OUT txn uuid, OUT keys text[], OUT amount bigint)
LANGUAGE plpgsql AS $f$
BEGIN
  SELECT g.txn, g.keys, g.amount INTO txn, keys, amount FROM granted_txns g ORDER BY g.txn
  OFFSET (SELECT floor(random() * count(*)) FROM granted_txns) LIMIT 1;
  keys := ARRAY(SELECT x FROM unnest(keys) AS x ORDER BY random());
END
$f$;

CREATE FUNCTION pg_temp.random_redeem(p_no integer) RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
  gk record; ga record; rg record;
  t uuid := pg_temp.gen_txn();
  problems integer; needles text[]; outcome text; d allot.decision;
BEGIN
  SELECT * INTO gk FROM pg_temp.gen_keys();
  SELECT * INTO ga FROM pg_temp.gen_amount();
  IF random() < 0.12 AND EXISTS (SELECT 1 FROM granted_txns) THEN
    SELECT * INTO rg FROM pg_temp.a_granted_txn();
    t := rg.txn; gk.keys := rg.keys; gk.problems := 0; ga.amount := rg.amount; ga.problems := 0;
  END IF;
  problems := gk.problems + ga.problems + (t IS NULL)::integer;
  needles := CASE WHEN problems = 1 THEN coalesce(CASE WHEN t IS NULL THEN ARRAY['txn'] END,
                                                  CASE WHEN gk.problems = 1 THEN gk.needles END, ga.needles) END;
  outcome := CASE WHEN problems > 0 THEN 'reject' ELSE pg_temp.txn_outcome(t, gk.keys, ga.amount) END;
  BEGIN
    d := allot.redeem(t, gk.keys, ga.amount);
    INSERT INTO hostile_calls (section, fn, what, expect, needles, result, amount, granted, replayed, expect_replay)
    VALUES ('random', 'redeem', '#' || p_no || ' ' || coalesce(t::text, 'NULL') || ' ' || coalesce(left(gk.keys::text, 200), 'NULL') || ' x' || coalesce(ga.amount::text, 'NULL'),
            CASE outcome WHEN 'reject' THEN 'reject' WHEN 'conflict' THEN 'conflict' ELSE 'ok' END,
            needles, d::text, ga.amount, d.granted, d.replayed, outcome = 'replay');
    IF d.granted AND NOT d.replayed AND outcome = 'fresh' THEN
      INSERT INTO granted_txns (txn, keys, amount) VALUES (t, pg_temp.sorted(gk.keys), ga.amount);
    END IF;
  EXCEPTION WHEN OTHERS THEN
    INSERT INTO hostile_calls (section, fn, what, expect, needles, state, msg)
    VALUES ('random', 'redeem', '#' || p_no || ' ' || coalesce(t::text, 'NULL') || ' ' || coalesce(left(gk.keys::text, 200), 'NULL') || ' x' || coalesce(ga.amount::text, 'NULL'),
            CASE outcome WHEN 'reject' THEN 'reject' WHEN 'conflict' THEN 'conflict' ELSE 'ok' END,
            CASE WHEN outcome = 'conflict' THEN ARRAY[t::text] ELSE needles END, SQLSTATE, SQLERRM);
  END;
END
$f$;

CREATE FUNCTION pg_temp.random_can_redeem(p_no integer) RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
  gk record; ga record; problems integer;
BEGIN
  SELECT * INTO gk FROM pg_temp.gen_keys();
  SELECT * INTO ga FROM pg_temp.gen_amount();
  problems := gk.problems + ga.problems;
  PERFORM pg_temp.try_call('random', 'can_redeem', '#' || p_no || ' ' || coalesce(left(gk.keys::text, 200), 'NULL'),
            CASE WHEN problems > 0 THEN 'reject' ELSE 'ok' END,
            format('SELECT count(*)::text FROM allot.can_redeem(%L::text[], %s)', gk.keys, coalesce(ga.amount::text, 'NULL')),
            CASE WHEN problems = 1 THEN coalesce(CASE WHEN gk.problems = 1 THEN gk.needles END, ga.needles) END);
END
$f$;

CREATE FUNCTION pg_temp.random_reverse(p_no integer) RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
  t uuid := pg_temp.gen_txn(0.06);
  reason text := CASE WHEN random() < 0.5 THEN NULL
                      ELSE (SELECT r.reason FROM reasons r WHERE r.id = (SELECT pg_temp.rnd((SELECT count(*)::integer FROM reasons)))) END;
  expected boolean;
  got boolean;
BEGIN
  expected := EXISTS (SELECT 1 FROM granted_txns g WHERE g.txn = t AND NOT g.reversed);
  BEGIN
    got := allot.reverse(t, reason);
    INSERT INTO hostile_calls (section, fn, what, expect, needles, result, expect_result)
    VALUES ('random', 'reverse', '#' || p_no || ' ' || coalesce(t::text, 'NULL'),
            CASE WHEN t IS NULL THEN 'reject' ELSE 'ok' END, ARRAY['txn'], got::text, expected::text);
    IF got THEN UPDATE granted_txns SET reversed = true WHERE txn = t; END IF;
  EXCEPTION WHEN OTHERS THEN
    INSERT INTO hostile_calls (section, fn, what, expect, needles, state, msg)
    VALUES ('random', 'reverse', '#' || p_no || ' ' || coalesce(t::text, 'NULL'),
            CASE WHEN t IS NULL THEN 'reject' ELSE 'ok' END, ARRAY['txn'], SQLSTATE, SQLERRM);
  END;
END
$f$;

-- set_limit and drop_limit on scopes of their own (taphq), so that they
-- never lower a limit under usage counted by the redemptions above.
CREATE FUNCTION pg_temp.random_set_limit(p_no integer) RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
  scope text; mx bigint; per interval; sliding boolean; valid tstzrange; mode text;
  problems integer := 0; needles text[]; b record; r float8;
BEGIN
  r := random();
  IF r < 0.80 THEN scope := (ARRAY['taphq:*', 'taphq:1', 'taphq:2', 'taphq:*/taphr:*', 'taphq:1/taphr:1'])[pg_temp.rnd(5)];
  ELSIF r < 0.90 THEN
    SELECT * INTO b FROM bad_keys WHERE id = (SELECT pg_temp.rnd((SELECT count(*)::integer FROM bad_keys)));
    scope := CASE WHEN b.bad_scope THEN b.k ELSE 'taphq:*' END;
    IF b.bad_scope THEN problems := problems + 1; needles := b.needles || ARRAY['scope']; END IF;
  ELSIF r < 0.95 THEN scope := 'taphq:1/taphr:*'; problems := problems + 1; needles := ARRAY['scope', 'class'];
  ELSE scope := NULL; problems := problems + 1; needles := ARRAY['scope'];
  END IF;
  r := random();
  mx := CASE WHEN r < 0.80 THEN (ARRAY[1, 5, 1000000, 9223372036854775807])[pg_temp.rnd(4)]
             WHEN r < 0.85 THEN 0 WHEN r < 0.90 THEN -pg_temp.rnd(5)
             WHEN r < 0.95 THEN -9223372036854775808 ELSE NULL END;
  IF mx IS NULL OR mx <= 0 THEN
    problems := problems + 1; needles := CASE WHEN mx IS NULL THEN ARRAY['max'] ELSE ARRAY['max', mx::text] END;
  END IF;
  r := random();
  IF r < 0.75 THEN per := (ARRAY[NULL, '1 day', '1 hour', '24 hours', '1 mon', '1 microsecond', '7 days', '999 years']::interval[])[pg_temp.rnd(8)];
  ELSE
    per := (ARRAY['0', '-1 day', '1 day -1 hour', '1001 years', '1 mon -1 day', '-1 microsecond', '178000000 years']::interval[])[pg_temp.rnd(7)];
    problems := problems + 1; needles := ARRAY['per'];
  END IF;
  r := random();
  sliding := CASE WHEN r < 0.6 THEN false WHEN r < 0.95 THEN true ELSE NULL END;
  IF sliding IS NULL THEN problems := problems + 1; needles := ARRAY['sliding'];
  ELSIF sliding AND (per IS NULL OR extract(month FROM per) <> 0 OR extract(year FROM per) <> 0) AND (per IS NULL OR per > '0') THEN
    -- (a sliding window over a bad per is already counted as a bad per)
    problems := problems + 1; needles := ARRAY['sliding'];
  END IF;
  r := random();
  IF r < 0.85 THEN
    valid := (ARRAY['(,)', '[2000-01-01,)', '(,3000-01-01)', '[-infinity,infinity]',
                    '[2026-03-31 12:00:00+00,2026-03-31 12:00:00+00]', '[2027-01-01,2028-01-01)']::tstzrange[])[pg_temp.rnd(6)];
  ELSE
    valid := (ARRAY['empty', NULL]::tstzrange[])[pg_temp.rnd(2)];
    problems := problems + 1; needles := ARRAY['valid'];
  END IF;
  r := random();
  IF r < 0.85 THEN mode := (ARRAY['enforce', 'shadow'])[pg_temp.rnd(2)];
  ELSE
    mode := (ARRAY['Enforce', '', 'enforce ', $m$shadow'; --$m$, NULL, '%s'])[pg_temp.rnd(6)];
    problems := problems + 1; needles := ARRAY['mode'];
  END IF;
  PERFORM pg_temp.try_call('random', 'set_limit',
            '#' || p_no || ' ' || concat_ws(', ', coalesce(left(scope, 40), 'NULL'), coalesce(mx::text, 'NULL'),
                                            coalesce(per::text, 'NULL'), coalesce(sliding::text, 'NULL'),
                                            coalesce(valid::text, 'NULL'), coalesce(mode, 'NULL')),
            CASE WHEN problems > 0 THEN 'reject' ELSE 'ok' END,
            format('SELECT allot.set_limit(%L, %L, %L, %L, %L, %L)::text', scope, mx, per, sliding, valid, mode),
            CASE WHEN problems = 1 THEN needles END);
END
$f$;

CREATE FUNCTION pg_temp.random_drop_limit(p_no integer) RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
  scope text; per interval; sliding boolean; problems integer := 0; needles text[]; b record; r float8 := random();
BEGIN
  IF r < 0.80 THEN scope := (ARRAY['taphq:*', 'taphq:1', 'taphq:2', 'taphq:*/taphr:*'])[pg_temp.rnd(4)];
  ELSIF r < 0.95 THEN
    SELECT * INTO b FROM bad_keys WHERE id = (SELECT pg_temp.rnd((SELECT count(*)::integer FROM bad_keys)));
    scope := CASE WHEN b.bad_scope THEN b.k ELSE 'taphq:*' END;
    IF b.bad_scope THEN problems := problems + 1; needles := b.needles || ARRAY['scope']; END IF;
  ELSE scope := NULL; problems := problems + 1; needles := ARRAY['scope'];
  END IF;
  per := (ARRAY[NULL, '1 day', '24 hours', '1 mon', '-1 day', '178000000 years']::interval[])[pg_temp.rnd(6)];
  sliding := (ARRAY[false, true, NULL])[pg_temp.rnd(3)];
  IF sliding IS NULL THEN problems := problems + 1; needles := ARRAY['sliding']; END IF;
  PERFORM pg_temp.try_call('random', 'drop_limit', '#' || p_no || ' ' || coalesce(left(scope, 40), 'NULL'),
            CASE WHEN problems > 0 THEN 'reject' ELSE 'ok' END,
            format('SELECT allot.drop_limit(%L, %L, %L)::text', scope, per, sliding),
            CASE WHEN problems = 1 THEN needles END);
END
$f$;

-- set_path: a key of its own each time (a second set_path on a key in the
-- same transaction waits for the first to commit).
CREATE FUNCTION pg_temp.random_set_path(p_no integer) RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
  key text; path text; problems integer := 0; needles text[]; b record; r float8 := random(); expect text;
BEGIN
  IF r < 0.75 THEN key := 'taphp:r' || p_no;
  ELSIF r < 0.90 THEN
    SELECT * INTO b FROM bad_keys WHERE id = (SELECT pg_temp.rnd((SELECT count(*)::integer FROM bad_keys)));
    key := b.k; problems := problems + 1; needles := b.needles;
  ELSIF r < 0.95 THEN key := 'taphp:*'; problems := problems + 1; needles := ARRAY['class'];
  ELSE key := NULL; problems := problems + 1; needles := ARRAY['key'];
  END IF;
  r := random();
  IF r < 0.45 THEN path := 'slow';
  ELSIF r < 0.80 THEN path := 'fast';
  ELSE
    path := (ARRAY['', 'FAST', 'medium', 'slow ', NULL, $p$fast'; --$p$])[pg_temp.rnd(6)];
    problems := problems + 1; needles := CASE WHEN path IS NULL THEN ARRAY['path'] ELSE ARRAY['path'] END;
  END IF;
  expect := CASE WHEN problems > 0 THEN 'reject'
                 WHEN path = 'fast' AND NOT allot._preloaded() THEN 'prereq' ELSE 'ok' END;
  PERFORM pg_temp.try_call('random', 'set_path', '#' || p_no || ' ' || coalesce(left(key, 40), 'NULL') || ' -> ' || coalesce(path, 'NULL'),
            expect, format('SELECT allot.set_path(%L, %L)', key, path),
            CASE WHEN problems = 1 THEN needles WHEN expect = 'prereq' THEN ARRAY['shared_preload_libraries'] END);
END
$f$;

-- A redeem_many batch of 0..8 items (or, now and then, no array at all).
CREATE FUNCTION pg_temp.random_redeem_many(p_no integer) RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
  n integer; r float8; gk record; ga record; rg record; t uuid; item jsonb; req jsonb;
  problems integer; needles text[]; txn_json jsonb; keys_json jsonb; amount_json jsonb; outcome text;
  d record; c record;
BEGIN
  r := random();
  IF r < 0.05 THEN
    req := (ARRAY['{}', '"x"', '1', 'true', 'null', '{"txn": "00000000-0000-4000-8000-000000000001", "keys": ["taphr:1"]}']::jsonb[])[pg_temp.rnd(6)];
    PERFORM pg_temp.try_call('random', 'redeem_many', '#' || p_no || ' ' || req::text, 'reject',
              format('SELECT count(*)::text FROM allot.redeem_many(%L)', req), ARRAY['array']);
    RETURN;
  END IF;
  TRUNCATE cur_items;
  n := floor(random() * 9)::integer;
  req := '[]';
  FOR i IN 0 .. n - 1 LOOP
    problems := 0; needles := NULL;
    r := random();
    IF r < 0.10 THEN
      item := (ARRAY['"x"', '1', 'null', '[]', 'true', '[[[]]]', '1.5', '{}']::jsonb[])[pg_temp.rnd(8)];
      problems := 1; needles := CASE WHEN item = '{}' THEN ARRAY['txn'] ELSE ARRAY['object'] END;
      INSERT INTO cur_items VALUES (i, 'bad', needles, NULL, NULL, NULL);
      req := req || jsonb_build_array(item);
      CONTINUE;
    END IF;
    IF r < 0.18 AND EXISTS (SELECT 1 FROM granted_txns) THEN  -- a replay
      SELECT * INTO rg FROM pg_temp.a_granted_txn();
      INSERT INTO cur_items VALUES (i, 'ok', NULL, rg.txn, rg.keys, rg.amount);
      req := req || jsonb_build_array(jsonb_build_object('txn', rg.txn, 'keys', to_jsonb(rg.keys), 'amount', rg.amount));
      CONTINUE;
    END IF;
    -- txn
    t := pg_temp.gen_txn(0);
    r := random();
    IF r < 0.03 THEN txn_json := NULL; problems := problems + 1; needles := ARRAY['txn'];       -- missing
    ELSIF r < 0.05 THEN txn_json := 'null'; problems := problems + 1; needles := ARRAY['txn'];
    ELSIF r < 0.07 THEN txn_json := to_jsonb(pg_temp.rnd(1000)); problems := problems + 1; needles := ARRAY['txn'];
    ELSIF r < 0.10 THEN
      txn_json := to_jsonb((ARRAY['not-a-uuid', '', left(t::text, 35), t::text || '0', replace(t::text, '-', '_'), ' ' || t::text])[pg_temp.rnd(6)]);
      problems := problems + 1; needles := ARRAY['txn'];
    ELSIF r < 0.15 THEN txn_json := to_jsonb(upper(t::text));
    ELSIF r < 0.20 THEN txn_json := to_jsonb(replace(t::text, '-', ''));
    ELSE txn_json := to_jsonb(t::text);
    END IF;
    -- keys
    SELECT * INTO gk FROM pg_temp.gen_keys();
    r := random();
    IF r < 0.03 THEN keys_json := NULL; problems := problems + 1; needles := ARRAY['keys'];
    ELSIF r < 0.05 THEN keys_json := to_jsonb('taphr:1'::text); problems := problems + 1; needles := ARRAY['keys'];
    ELSIF r < 0.06 THEN keys_json := '[1, 2]'; problems := problems + 1; needles := ARRAY['keys'];
    ELSE
      keys_json := to_jsonb(gk.keys);
      IF gk.problems > 0 THEN
        problems := problems + gk.problems;
        -- JSON null elements are "not strings"
        needles := CASE WHEN gk.keys IS NULL OR array_position(gk.keys, NULL) IS NOT NULL THEN ARRAY['keys'] ELSE gk.needles END;
      END IF;
    END IF;
    -- amount (JSON null or missing means the default, 1)
    SELECT * INTO ga FROM pg_temp.gen_amount();
    r := random();
    IF r < 0.05 THEN
      amount_json := (ARRAY['"1"', '1.5', 'true', '1e20', '-1e20', '[1]', '{}']::jsonb[])[pg_temp.rnd(7)];
      problems := problems + 1; needles := ARRAY['amount']; ga.amount := NULL;
    ELSIF ga.amount IS NULL THEN
      amount_json := CASE WHEN random() < 0.5 THEN 'null'::jsonb END; ga.amount := 1;
    ELSE
      amount_json := to_jsonb(ga.amount);
      IF ga.problems > 0 THEN problems := problems + 1; needles := ga.needles; END IF;
    END IF;
    item := jsonb_strip_nulls(jsonb_build_object('txn', txn_json, 'keys', keys_json))
            || CASE WHEN amount_json IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('amount', amount_json) END;
    IF txn_json = 'null'::jsonb THEN item := item || '{"txn": null}'; END IF;
    IF random() < 0.02 THEN
      item := item || '{"colour": "red"}'; problems := problems + 1; needles := ARRAY['colour'];
    END IF;
    INSERT INTO cur_items VALUES (i, CASE WHEN problems > 0 THEN 'bad' ELSE 'ok' END,
                                  CASE WHEN problems = 1 THEN needles END, t, gk.keys, ga.amount);
    req := req || jsonb_build_array(item);
  END LOOP;

  BEGIN
    FOR d IN SELECT * FROM allot.redeem_many(req) ORDER BY idx LOOP
      SELECT * INTO c FROM cur_items WHERE idx = d.idx;
      outcome := CASE WHEN c.expect = 'bad' THEN 'bad' ELSE pg_temp.txn_outcome(c.txn, c.keys, c.amount) END;
      INSERT INTO batch_spec (section, batch, idx, item, expect, needles, amount, expect_replay)
      VALUES ('random', '#' || p_no, d.idx, req->d.idx,
              CASE outcome WHEN 'bad' THEN 'bad' WHEN 'conflict' THEN 'conflict' ELSE 'ok' END,
              CASE WHEN outcome = 'conflict' THEN ARRAY[c.txn::text] ELSE c.needles END,
              c.amount, CASE WHEN outcome IN ('fresh', 'replay') THEN outcome = 'replay' END);
      INSERT INTO batch_items VALUES ('random', '#' || p_no, d.idx, d.granted, d.replayed, d.path,
                                      d.denied_keys, d.retry_after, d.error);
      IF outcome = 'fresh' AND d.granted AND NOT d.replayed AND d.error IS NULL THEN
        INSERT INTO granted_txns (txn, keys, amount) VALUES (c.txn, pg_temp.sorted(c.keys), c.amount);
      END IF;
    END LOOP;
    -- items that got no row
    INSERT INTO batch_spec (section, batch, idx, item, expect, needles)
    SELECT 'random', '#' || p_no, ci.idx, req->ci.idx, CASE WHEN ci.expect = 'bad' THEN 'bad' ELSE 'ok' END, ci.needles
      FROM cur_items ci
     WHERE NOT EXISTS (SELECT 1 FROM batch_spec s WHERE (s.section, s.batch, s.idx) = ('random', '#' || p_no, ci.idx));
    INSERT INTO hostile_calls (section, fn, what, expect, result)
    VALUES ('random', 'redeem_many', '#' || p_no || ' (' || n || ' items)', 'ok', 'rows');
  EXCEPTION WHEN OTHERS THEN
    INSERT INTO hostile_calls (section, fn, what, expect, state, msg)
    VALUES ('random', 'redeem_many', '#' || p_no || ' (' || n || ' items) ' || left(req::text, 300), 'ok', SQLSTATE, SQLERRM);
  END;
END
$f$;

CREATE TEMP TABLE before_random AS
SELECT (SELECT coalesce(max(seq), 0) FROM allot.events) AS seq;

DO $do$
DECLARE
  r float8;
BEGIN
  PERFORM setseed(0.20260331);
  FOR n IN 1..2500 LOOP
    r := random();
    IF r < 0.40 THEN PERFORM pg_temp.random_redeem(n);
    ELSIF r < 0.55 THEN PERFORM pg_temp.random_redeem_many(n);
    ELSIF r < 0.67 THEN PERFORM pg_temp.random_can_redeem(n);
    ELSIF r < 0.82 THEN PERFORM pg_temp.random_reverse(n);
    ELSIF r < 0.90 THEN PERFORM pg_temp.random_set_limit(n);
    ELSIF r < 0.95 THEN PERFORM pg_temp.random_drop_limit(n);
    ELSE PERFORM pg_temp.random_set_path(n);
    END IF;
  END LOOP;
END
$do$;

SELECT cmp_ok((SELECT count(*) FROM hostile_calls WHERE section = 'random'), '=', 2500::bigint,
              'the randomized section made 2,500 calls');

-- Accounting: the log holds exactly what the valid random calls were told.
SELECT is_empty($$
  WITH told AS (
    SELECT count(*) FILTER (WHERE granted AND NOT replayed) AS grants,
           coalesce(sum(amount) FILTER (WHERE granted AND NOT replayed), 0) AS units,
           count(*) FILTER (WHERE NOT granted) AS denials
      FROM (SELECT c.granted, c.replayed, c.amount FROM hostile_calls c
             WHERE c.section = 'random' AND c.fn = 'redeem' AND c.state IS NULL
            UNION ALL
            SELECT i.granted, i.replayed, s.amount FROM batch_items i JOIN batch_spec s USING (section, batch, idx)
             WHERE i.section = 'random' AND i.error IS NULL) d
  ), logged AS (
    SELECT count(*) FILTER (WHERE kind = 'grant') AS grants,
           coalesce(sum(amount) FILTER (WHERE kind = 'grant'), 0) AS units,
           count(*) FILTER (WHERE kind = 'deny') AS denials,
           count(*) FILTER (WHERE kind = 'reverse') AS reversals
      FROM allot.events WHERE seq > (SELECT seq FROM before_random)
  )
  SELECT 'grants' AS what, t.grants::numeric AS told, l.grants::numeric AS logged FROM told t, logged l WHERE t.grants <> l.grants
  UNION ALL SELECT 'units', t.units, l.units FROM told t, logged l WHERE t.units <> l.units
  UNION ALL SELECT 'denials', t.denials, l.denials FROM told t, logged l WHERE t.denials <> l.denials
  UNION ALL SELECT 'reversals', (SELECT count(*) FROM hostile_calls WHERE section = 'random' AND fn = 'reverse' AND result = 'true'),
                   l.reversals FROM logged l
             WHERE l.reversals <> (SELECT count(*) FROM hostile_calls WHERE section = 'random' AND fn = 'reverse' AND result = 'true')
$$, 'random: the log holds exactly the grants (count and units), denials and reversals the valid calls returned, nothing of the rejected ones');

SELECT is_empty($$
  SELECT coalesce(g.txn, t.txn) AS txn, g.keys AS expected_keys, t.keys AS logged_keys, g.amount, t.amount,
         g.reversed, t.reversed_at
    FROM granted_txns g
    FULL JOIN (SELECT * FROM allot.txns WHERE txn IN (SELECT txn FROM used_txns)) t ON t.txn = g.txn
   WHERE g.txn IS NULL OR t.txn IS NULL OR g.keys <> t.keys OR g.amount <> t.amount
      OR g.reversed <> (t.reversed_at IS NOT NULL)
$$, 'random: allot.txns holds exactly the granted txns, with their keys, amounts and reversals');

-------------------------------------------------------------------------------
-- Properties of every section.
-------------------------------------------------------------------------------
SELECT is_empty(format($$SELECT id, fn, what, expect, state, msg FROM call_state_problems WHERE section = %L$$, s),
                s || ': no internal error (XX000); every error has a documented SQLSTATE (22023/22P02; 23505 for a reused txn; 55000 for set_path fast without the preload; 22003 for a shadow counter''s overflow)')
  FROM unnest(ARRAY['null_args', 'key_grammar', 'arrays', 'amounts', 'txns', 'set_limit', 'drop_limit',
                    'set_path', 'archive', 'json_whole', 'odd_keys', 'extremes', 'reasons', 'batch', 'random']) AS s;

SELECT is_empty(format($$SELECT id, fn, what, state, msg FROM call_message_problems WHERE section = %L$$, s),
                s || ': every error message is non-empty and shows no C++ internals')
  FROM unnest(ARRAY['null_args', 'key_grammar', 'arrays', 'amounts', 'txns', 'set_limit',
                    'set_path', 'archive', 'json_whole', 'odd_keys', 'extremes', 'random']) AS s;

SELECT is_empty(format($$SELECT id, fn, what, expect, state, msg, left(result, 200) FROM call_class_problems WHERE section = %L$$, s),
                s || ': every bad call is rejected and every valid call succeeds (with the documented replay / result)')
  FROM unnest(ARRAY['null_args', 'key_grammar', 'arrays', 'amounts', 'txns', 'set_limit', 'drop_limit',
                    'set_path', 'archive', 'json_whole', 'odd_keys', 'extremes', 'reasons', 'batch', 'random']) AS s;

SELECT is_empty(format($$SELECT id, fn, what, needles, msg FROM call_unnamed_problems WHERE section = %L$$, s),
                s || ': every error message names the problem (the bad key, argument or value)')
  FROM unnest(ARRAY['null_args', 'key_grammar', 'arrays', 'amounts', 'txns', 'set_limit',
                    'set_path', 'archive', 'json_whole', 'odd_keys', 'extremes', 'random']) AS s;

SELECT is_empty(format($$SELECT batch, idx, expect, left(item, 200), granted, replayed, error, problem
                           FROM item_problems WHERE section = %L AND problem IS NOT NULL$$, s),
                s || ': redeem_many refuses each bad item on its own row (granted = false, error naming the problem) and decides the others')
  FROM unnest(ARRAY['key_grammar', 'txns', 'json_whole', 'random']) AS s;

-------------------------------------------------------------------------------
-- Nothing consumed, nothing logged, limits unchanged.
-------------------------------------------------------------------------------
SELECT is((SELECT fp FROM fingerprints WHERE at = 'after the rejected calls'),
          (SELECT fp FROM fingerprints WHERE at = 'start'),
          'sections 1-7 (rejected and read-only calls): events, txns, usage, counters, limits, paths and shared-memory meters unchanged (but for the valid taphok items among them)');

SELECT is((SELECT md5(string_agg(l::text, ';' ORDER BY l.id)) FROM allot.limits l WHERE l.scope NOT LIKE 'taphq%'),
          (SELECT fp FROM fingerprints WHERE at = 'limits before bad set_limit'),
          'limits unchanged by every rejected set_limit / drop_limit (the random section only changes taphq scopes)');

-- The limit that the hostile set_limit calls aimed at still decides as it
-- did: 1000 units for a fresh key, not one more.
SELECT is(ARRAY[(allot.redeem('00000000-0000-4000-8000-00000000a701', ARRAY['taphv:after'], 1000)).granted,
                (allot.redeem('00000000-0000-4000-8000-00000000a702', ARRAY['taphv:after'], 1)).granted],
          ARRAY[true, false],
          'taphv:* still admits exactly 1000 per key after the rejected set_limit calls on it');

-- Every limited key the calls touched has exactly max - used left (used
-- as the log says). A reversal on the fast path gives its units back when
-- its transaction commits, so within this transaction a key has between
-- remaining - reversed and remaining units: the probe redeems the lower
-- bound (a leaked reservation would deny it), then one more than can be
-- left (a lost unit would grant it).
CREATE TEMP TABLE probe AS
SELECT k.key,
       (SELECT min(l.max - coalesce((SELECT sum(u.used) FROM allot.usage u WHERE u.key = k.key AND u.limit_id = l.id), 0))
          FROM allot.limits l
         WHERE l.scope IN (k.key, regexp_replace(k.key, ':[^/]*', ':*', 'g')) AND l.mode = 'enforce'
           AND NOT l.sliding AND l.valid @> allot._now())::bigint AS remaining,
       (SELECT coalesce(sum(e.amount), 0) FROM allot.events e
         WHERE e.kind = 'reverse' AND k.key = ANY (e.keys))::bigint AS reversed
  FROM (SELECT DISTINCT g.k AS key FROM good_keys g WHERE g.k NOT LIKE 'taphl:%' AND g.k NOT LIKE 'taphu:%'
        UNION SELECT 'taphv:' || x FROM unnest(ARRAY['h1', 'big', 'big2', 're1', 're2', 'rev', 'sh', 'after']) x
        UNION SELECT 'taphok:' || x FROM unnest(ARRAY['kg4', 't3', 'j9']) x
        UNION SELECT 'taphb:' || i FROM generate_series(0, 36) i) k;
ALTER TABLE probe ADD COLUMN lower_bound bigint, ADD COLUMN first boolean, ADD COLUMN second boolean;
UPDATE probe SET lower_bound = greatest(remaining - reversed, 0);
UPDATE probe SET first = CASE WHEN lower_bound > 0
                              THEN (allot.redeem(md5('probe1' || key)::uuid, ARRAY[key], lower_bound)).granted END;
UPDATE probe SET second = (allot.redeem(md5('probe2' || key)::uuid, ARRAY[key], remaining - lower_bound + 1)).granted;
SELECT is_empty($$SELECT * FROM probe WHERE remaining IS NULL OR first IS DISTINCT FROM (lower_bound > 0 OR NULL) OR second$$,
                'every touched key admits its remaining units (max - used per the log, less what this transaction reversed) and never one more: no reservation leaked, no unit lost');

SELECT is_empty($$SELECT * FROM allot.verify() WHERE key LIKE 'taph%'$$,
                'verify() is empty: the counters agree with the log');
SELECT is_empty($$SELECT * FROM allot.violations WHERE key LIKE 'taph%' AND mode = 'enforce'$$,
                'no enforced window is over its max');
SELECT lives_ok($$SELECT * FROM allot.rollup()$$, 'rollup() runs after all of it');
SELECT is_empty($$SELECT * FROM allot.verify() WHERE key LIKE 'taph%'$$,
                'verify() is still empty after the rollup folded the fast-path grants');
SELECT has_table('allot', 'events', 'allot.events is still there (no injection got through)');
SELECT ok(true, 'the server is still up after all of the above (the connection never dropped)');

SELECT * FROM finish();
ROLLBACK;
