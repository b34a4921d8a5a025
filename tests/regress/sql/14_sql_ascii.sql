-- 14_sql_ascii: in a SQL_ASCII database PostgreSQL accepts text of any
-- bytes. Text that ends up in the log's JSON (a reversal's reason) must be
-- UTF-8: anything else is refused with 22021 and changes nothing. Keys,
-- scopes, modes and paths that are not UTF-8 are malformed like any other
-- (22023), and a redeem_many item holding such bytes, or a number beyond
-- the range of a double, is one bad item among good ones. Messages show
-- such bytes as \xNN, so they are UTF-8 themselves.
SET client_min_messages = warning;
DROP DATABASE IF EXISTS allot_sql_ascii;
CREATE DATABASE allot_sql_ascii ENCODING 'SQL_ASCII' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C';
RESET client_min_messages;
SELECT current_database() AS home \gset
\c allot_sql_ascii
SET client_min_messages = warning;
CREATE EXTENSION pg_allot;
RESET client_min_messages;
SELECT pg_encoding_to_char(encoding) AS encoding FROM pg_database WHERE datname = current_database();

-- Runs one call in a subtransaction: its result, or its SQLSTATE and message.
CREATE FUNCTION pg_temp.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  r text;
BEGIN
  EXECUTE sql INTO r;
  RETURN r;
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

SELECT allot.set_limit('asc:*', 5) > 0 AS limit_set;
SELECT granted FROM allot.redeem('00000000-0000-4000-8000-000000001401', ARRAY['asc:1']);

-- A reason that is not UTF-8 is refused, and the grant stays unreversed.
SELECT pg_temp.try($$SELECT allot.reverse('00000000-0000-4000-8000-000000001401', E'refund \xff\xfe')$$) AS reverse;
SELECT pg_temp.try($$SELECT allot.reverse('00000000-0000-4000-8000-000000001401', E'\xc3')$$) AS reverse;
SELECT count(*) AS reversals FROM allot.events WHERE kind = 'reverse';
-- UTF-8 is fine, stored byte for byte.
SELECT allot.reverse('00000000-0000-4000-8000-000000001401', E'refund \xc3\xa9') AS reversed;
SELECT reverse_reason = E'refund \xc3\xa9' AS reason_kept FROM allot.txns WHERE txn = '00000000-0000-4000-8000-000000001401';

-- Keys, scopes, paths and modes that are not UTF-8: malformed (22023).
SELECT pg_temp.try($$SELECT allot.redeem('00000000-0000-4000-8000-000000001402', ARRAY['asc:2', E'asc:\xff'])::text$$) AS redeem;
SELECT pg_temp.try($$SELECT count(*)::text FROM allot.can_redeem(ARRAY[E'asc:\x80x'])$$) AS can_redeem;
SELECT pg_temp.try($$SELECT allot.set_limit(E'asc:\xff', 5)::text$$) AS set_limit;
SELECT pg_temp.try($$SELECT allot.set_limit('asc:*', 5, mode => E'shadow\xff')::text$$) AS set_limit;
SELECT pg_temp.try($$SELECT allot.drop_limit(E'\xffasc:*')::text$$) AS drop_limit;
SELECT pg_temp.try($$SELECT allot.set_path(E'asc:\xff', 'slow')$$) AS set_path;
SELECT pg_temp.try($$SELECT allot.set_path('asc:1', E'slow\xff')$$) AS set_path;

-- redeem_many: each such item is refused on its own row; the others are
-- decided.
SELECT idx, granted, error FROM allot.redeem_many(E'[
  {"txn": "00000000-0000-4000-8000-000000001403", "keys": ["asc:3"]},
  {"txn": "00000000-0000-4000-8000-000000001404", "keys": ["asc:3", "asc:\xff"]},
  {"txn": "00000000-0000-4000-8000-00000000140\xff", "keys": ["asc:3"]},
  {"txn": "00000000-0000-4000-8000-000000001405", "keys": ["asc:3"], "\xfe": 1},
  {"txn": "00000000-0000-4000-8000-000000001406", "keys": ["asc:3"], "amount": 1e400},
  ["\xff"],
  {"txn": "00000000-0000-4000-8000-000000001407", "keys": ["asc:3"], "amount": 2}
]') ORDER BY idx;

-- Nothing of the refused calls is in the log; the counters agree with it.
SELECT kind, keys, amount FROM allot.events ORDER BY seq;
SELECT key, used FROM allot.usage ORDER BY key;
SELECT count(*) AS verify_rows FROM allot.verify();

\c :home
SET client_min_messages = warning;
DROP DATABASE allot_sql_ascii WITH (FORCE);
RESET client_min_messages;
