-- 10_bad_input: every bad-input rule of API.md ("Keys", "Errors") for
-- redeem, can_redeem, redeem_many and reverse.
--   * each is an ERROR with SQLSTATE 22023 (or 22P02 for malformed JSON)
--     and a message that names the problem;
--   * the limits of the grammar are exact: 16 keys, 32-byte kind, 128-byte
--     id, 256-byte key, 4 segments are fine, one more is an error;
--   * nothing is consumed and nothing is logged as granted.

SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_allot;
RESET client_min_messages;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
SET allot.clock_override = '2026-03-31 12:00:00+00';

-- try(sql): 'ok', or the SQLSTATE and message of the error (control
-- characters in the message shown as <ctl>).
CREATE FUNCTION pg_temp.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE sql;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '[[:cntrl:]]', '<ctl>', 'g');
END
$$;
-- redeem_key(key): redeems that one key under a txn of its own; the result
-- of try() around it.
CREATE FUNCTION pg_temp.redeem_key(k text) RETURNS text LANGUAGE sql AS $$
  SELECT pg_temp.try(format('SELECT allot.redeem(%L, %L::text[])',
                            md5(k)::uuid, ARRAY[k]))
$$;

-- A limit on every kind used below, so a wrongly accepted key would count.
SELECT allot.set_limit('v:*', 1000000);
SELECT allot.set_limit('k:*', 1000000);

SELECT count(*) AS events_before FROM allot.events \gset
SELECT coalesce(sum(used), 0) AS used_before FROM allot.counters \gset

-------------------------------------------------------------------------------
-- Arguments of redeem.
-------------------------------------------------------------------------------
SELECT t.what, pg_temp.try(t.sql) AS result
  FROM (VALUES
    ('NULL txn',        $$SELECT allot.redeem(NULL, ARRAY['v:1'])$$),
    ('NULL keys',       $$SELECT allot.redeem('00000000-0000-4000-8000-000000001001', NULL)$$),
    ('empty keys',      $$SELECT allot.redeem('00000000-0000-4000-8000-000000001001', '{}')$$),
    ('NULL element',    $$SELECT allot.redeem('00000000-0000-4000-8000-000000001001', ARRAY['v:1', NULL])$$),
    ('two dimensions',  $$SELECT allot.redeem('00000000-0000-4000-8000-000000001001', '{{v:1},{v:2}}')$$),
    ('duplicate keys',  $$SELECT allot.redeem('00000000-0000-4000-8000-000000001001', ARRAY['v:1', 'v:2', 'v:1'])$$),
    ('17 keys',         $$SELECT allot.redeem('00000000-0000-4000-8000-000000001001',
                                              ARRAY(SELECT 'k:' || i FROM generate_series(1, 17) i))$$),
    ('amount 0',        $$SELECT allot.redeem('00000000-0000-4000-8000-000000001001', ARRAY['v:1'], 0)$$),
    ('amount -1',       $$SELECT allot.redeem('00000000-0000-4000-8000-000000001001', ARRAY['v:1'], -1)$$),
    ('amount min',      $$SELECT allot.redeem('00000000-0000-4000-8000-000000001001', ARRAY['v:1'], -9223372036854775808)$$),
    ('amount NULL',     $$SELECT allot.redeem('00000000-0000-4000-8000-000000001001', ARRAY['v:1'], NULL)$$),
    ('txn not a uuid',  $$SELECT allot.redeem('nope', ARRAY['v:1'])$$)
  ) AS t(what, sql);

-------------------------------------------------------------------------------
-- The key grammar, rule by rule: kind:id segments joined by '/'; kind is
-- [a-z][a-z0-9_]* up to 32 bytes; id is 1..128 bytes of printable UTF-8
-- without '/' or ':'; at most 4 segments and 256 bytes; '*' is only for
-- classes. (Invalid UTF-8 cannot reach the function: text is validated by
-- the server.)
-------------------------------------------------------------------------------
SELECT t.what, t.k, pg_temp.redeem_key(t.k) AS result
  FROM (VALUES
    ('empty key',             ''),
    ('no colon',              'voucher'),
    ('empty kind',            ':V1'),
    ('empty id',              'voucher:'),
    ('uppercase kind',        'Voucher:V1'),
    ('kind starts with digit','1voucher:V1'),
    ('kind with a dash',      'gift-card:G1'),
    ('kind with a space',     'gift card:G1'),
    ('id with a colon',       'voucher:V:1'),
    ('id is *',               'voucher:*'),
    ('one id is *',           'voucher:V1/user:*'),
    ('empty segment',         'voucher:V1//user:U1'),
    ('trailing slash',        'voucher:V1/'),
    ('five segments',         'a:1/b:2/c:3/d:4/e:5'),
    ('leading space',         ' voucher:V1')
  ) AS t(what, k);

-- Control characters (C0, DEL, and the C1 range) are not printable.
SELECT t.what, pg_temp.redeem_key(t.k) AS result
  FROM (VALUES
    ('tab',       E'v:a\tb'),
    ('newline',   E'v:a\nb'),
    ('escape',    E'v:a\x1bb'),
    ('DEL',       E'v:a\x7fb'),
    ('U+0085',    E'v:a\u0085b')
  ) AS t(what, k);

-- Length limits, one byte over each (bytes count, not characters: 'é' is 2
-- bytes). The message names the whole key; only its ends are shown here.
SELECT t.what, octet_length(t.k) AS bytes,
       left(pg_temp.redeem_key(t.k), 18) || '...' || right(pg_temp.redeem_key(t.k), 30) AS result
  FROM (VALUES
    ('kind of 33 bytes',  repeat('k', 33) || ':x'),
    ('id of 129 bytes',   'v:' || repeat('x', 129)),
    ('id of 65 x é',      'v:' || repeat('é', 65)),
    ('key of 257 bytes',  'v:' || repeat('x', 125) || '/w:' || repeat('y', 127))
  ) AS t(what, k);

-- Very long keys and scopes: the message still names the problem (it is
-- not lost to a cut-off), and is valid UTF-8 (not cut inside a character).
CREATE FUNCTION pg_temp.is_utf8(t text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  PERFORM convert_to(t, 'UTF8');
  RETURN true;
EXCEPTION WHEN character_not_in_repertoire OR untranslatable_character THEN
  RETURN false;
END
$$;
SELECT t.what, left(r, 19) AS starts, r LIKE '%longer than 256 bytes%' AS names_problem,
       pg_temp.is_utf8(r) AS valid_utf8
  FROM (VALUES
    ('key of 10000 x',   pg_temp.redeem_key('v:' || repeat('x', 9998))),
    ('key of 1201 bytes',pg_temp.redeem_key('v:x' || repeat('é', 599))),
    ('scope of 10000 x', pg_temp.try(format('SELECT allot.set_limit(%L, 1)', 'v:' || repeat('x', 9998)))),
    ('scope of 1201 bytes', pg_temp.try(format('SELECT allot.set_limit(%L, 1)', 'v:x' || repeat('é', 599))))
  ) AS t(what, r);

-- A bad key is named by its position.
SELECT allot.redeem('00000000-0000-4000-8000-000000001003', ARRAY['v:1', 'v:2', 'V:3']);

-------------------------------------------------------------------------------
-- can_redeem, reverse, redeem_many: the same rules.
-------------------------------------------------------------------------------
SELECT t.what, pg_temp.try(t.sql) AS result
  FROM (VALUES
    ('can_redeem NULL keys',    $$SELECT * FROM allot.can_redeem(NULL)$$),
    ('can_redeem empty keys',   $$SELECT * FROM allot.can_redeem('{}')$$),
    ('can_redeem NULL element', $$SELECT * FROM allot.can_redeem(ARRAY[NULL::text])$$),
    ('can_redeem 17 keys',      $$SELECT * FROM allot.can_redeem(ARRAY(SELECT 'k:' || i FROM generate_series(1, 17) i))$$),
    ('can_redeem duplicate',    $$SELECT * FROM allot.can_redeem(ARRAY['v:1', 'v:1'])$$),
    ('can_redeem bad key',      $$SELECT * FROM allot.can_redeem(ARRAY['v:1/'])$$),
    ('can_redeem class',        $$SELECT * FROM allot.can_redeem(ARRAY['v:*'])$$),
    ('can_redeem amount 0',     $$SELECT * FROM allot.can_redeem(ARRAY['v:1'], 0)$$),
    ('can_redeem amount NULL',  $$SELECT * FROM allot.can_redeem(ARRAY['v:1'], NULL)$$),
    ('reverse NULL txn',        $$SELECT allot.reverse(NULL)$$),
    ('reverse NULL txn+reason', $$SELECT allot.reverse(NULL, 'why')$$),
    ('redeem_many NULL',        $$SELECT * FROM allot.redeem_many(NULL)$$),
    ('redeem_many object',      $$SELECT * FROM allot.redeem_many('{}')$$),
    ('redeem_many number',      $$SELECT * FROM allot.redeem_many('1')$$),
    ('redeem_many bad JSON',    $$SELECT * FROM allot.redeem_many('[{')$$),
    ('redeem_many bad JSON 2',  $$SELECT * FROM allot.redeem_many('[{"txn": }]')$$),
    ('redeem_many 10001 items', $$SELECT * FROM allot.redeem_many(
                                    (SELECT jsonb_agg('{}'::jsonb) FROM generate_series(1, 10001)))$$)
  ) AS t(what, sql);

-- In redeem_many the same problems are per item: error text, granted false.
SELECT idx, granted, error
  FROM allot.redeem_many(
    (SELECT jsonb_agg(jsonb_build_object('txn', md5(k)::uuid, 'keys', jsonb_build_array(k))
                      ORDER BY n)
       FROM unnest(ARRAY['', 'voucher', 'Voucher:V1', 'voucher:*', 'a:1/b:2/c:3/d:4/e:5',
                         E'v:a\tb', 'v:' || repeat('x', 129)]) WITH ORDINALITY AS u(k, n)));
SELECT idx, granted, error FROM allot.redeem_many('[
  {"txn": null, "keys": ["v:1"]},
  {"txn": "00000000-0000-4000-8000-000000001010", "keys": null},
  {"txn": "00000000-0000-4000-8000-000000001011", "keys": ["v:1", "v:1"]},
  {"txn": "00000000-0000-4000-8000-000000001012", "keys": ["k:1","k:2","k:3","k:4","k:5","k:6","k:7","k:8","k:9","k:10","k:11","k:12","k:13","k:14","k:15","k:16","k:17"]},
  {"txn": "00000000-0000-4000-8000-000000001013", "keys": ["v:1"], "amount": 0},
  {"txn": "00000000-0000-4000-8000-000000001014", "keys": ["v:1"], "amount": -1},
  {"txn": "00000000-0000-4000-8000-00000000101", "keys": ["v:1"]},
  {"txn": "00000000-0000-4000-8000-00000000101g", "keys": ["v:1"]}
]');

-------------------------------------------------------------------------------
-- None of the bad calls above consumed or logged anything: no event, no
-- counted unit.
-------------------------------------------------------------------------------
SELECT count(*) - :events_before AS new_events FROM allot.events;
SELECT coalesce(sum(used), 0) - :used_before AS new_units FROM allot.counters;

-------------------------------------------------------------------------------
-- The other side of each boundary: what is just inside the rules works.
-------------------------------------------------------------------------------
-- Exactly at each length limit (bytes, not characters: 'é' is 2 bytes).
SELECT t.what, octet_length(t.k) AS bytes, pg_temp.redeem_key(t.k) AS result
  FROM (VALUES
    ('kind of 32 bytes',  repeat('k', 32) || ':x'),
    ('id of 128 bytes',   'v:' || repeat('x', 128)),
    ('id of 64 x é',      'v:' || repeat('é', 64)),
    ('key of 256 bytes',  'v:' || repeat('x', 125) || '/w:' || repeat('y', 126)),
    ('4 segments',        'v:1/w:2/x:3/y:4')
  ) AS t(what, k);

-- 16 keys is the most a request may name.
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000001002',
                                 ARRAY(SELECT 'k:' || i FROM generate_series(1, 16) i));

-- Valid but unusual keys: printable UTF-8, spaces, punctuation in ids, and
-- digits and '_' in kinds.
SELECT t.k, pg_temp.redeem_key(t.k) AS result
  FROM (VALUES ('v:Grüße'), ('v:a b'), ('v:#!?.-+=~'), ('k_2:x'), ('v:€uro'), ('v:*x'))
    AS t(k);

-- Accepted forms: JSON null for amount means "not given" (the default, 1),
-- as null txn or keys mean "missing" above; a txn in any spelling that
-- PostgreSQL's uuid type accepts (braces, no hyphens, upper case).
SELECT idx, granted, replayed, error FROM allot.redeem_many('[
  {"txn": "00000000-0000-4000-8000-000000001015", "keys": ["v:1"], "amount": null},
  {"txn": "{00000000-0000-4000-8000-000000001016}", "keys": ["v:1"]},
  {"txn": "00000000000040008000000000001017", "keys": ["v:1"]},
  {"txn": "00000000-0000-4000-8000-00000000101A", "keys": ["v:1"]},
  {"txn": "00000000-0000-4000-8000-00000000101a", "keys": ["v:1"]}
]');

-------------------------------------------------------------------------------
-- Amounts at the edge of bigint: an enforced limit simply denies; nothing
-- overflows.
-------------------------------------------------------------------------------
SELECT granted, denied_keys, retry_after
  FROM allot.redeem('00000000-0000-4000-8000-000000001020', ARRAY['v:big'], 9223372036854775807);
SELECT * FROM allot.can_redeem(ARRAY['v:big'], 9223372036854775807);

-- These grants (and the one denial) are all the log holds, and the
-- counters agree with it.
SELECT kind, left(keys::text, 40) AS keys, amount
  FROM allot.events WHERE seq > :events_before ORDER BY seq;
SELECT * FROM allot.verify();

DROP EXTENSION pg_allot CASCADE;
