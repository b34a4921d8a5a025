-- 07_redeem_many: many requests in one call, decided independently, in order.
--   * one row per item, idx 0-based, in the order given;
--   * later items see earlier grants of the same batch;
--   * a bad item gets granted = false and an error text; the others are
--     decided as usual;
--   * the same txn twice in a batch: the second is a replay (or, with other
--     keys, an error on that item only);
--   * whole-call errors: NULL, not an array, more than 10,000 items,
--     malformed JSON (22P02).

SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_allot;
RESET client_min_messages;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
SET allot.clock_override = '2026-03-31 12:00:00+00';

SELECT allot.set_limit('seat:*', 3, '1 day');    -- 1
SELECT allot.set_limit('fan:*', 1, '1 day');     -- 2

-------------------------------------------------------------------------------
-- Order, idx, and independent decisions: seat:A has 3 a day, each fan 1.
-- Item 3 is denied (fan:F1 already got one in item 0); item 4 still gets
-- the third seat; item 5 finds seat:A full.
-------------------------------------------------------------------------------
SELECT idx, granted, replayed, denied_keys, retry_after, error
  FROM allot.redeem_many('[
    {"txn": "00000000-0000-4000-8000-000000000700", "keys": ["seat:A", "fan:F1"]},
    {"txn": "00000000-0000-4000-8000-000000000701", "keys": ["seat:A", "fan:F2"], "amount": 1},
    {"txn": "00000000-0000-4000-8000-000000000702", "keys": ["seat:B"], "amount": 2},
    {"txn": "00000000-0000-4000-8000-000000000703", "keys": ["seat:A", "fan:F1"]},
    {"txn": "00000000-0000-4000-8000-000000000704", "keys": ["seat:A", "fan:F3"]},
    {"txn": "00000000-0000-4000-8000-000000000705", "keys": ["seat:A", "fan:F4"]}
  ]');
SELECT key, used FROM allot.counters ORDER BY key;
-- Each grant and each denial is in the log, one event per item.
SELECT txn, kind, keys, amount FROM allot.events ORDER BY txn, seq;

-------------------------------------------------------------------------------
-- Bad items: granted = false with the problem in error; the items around
-- them are decided. Nothing of a bad item is logged or counted.
-------------------------------------------------------------------------------
SELECT count(*) AS events_before FROM allot.events \gset
SELECT idx, granted, replayed, path IS NULL AS no_path, denied_keys, retry_after, error
  FROM allot.redeem_many('[
    {"txn": "00000000-0000-4000-8000-000000000710", "keys": ["seat:C"]},
    {"txn": "not-a-uuid", "keys": ["seat:C"]},
    {"txn": "00000000-0000-4000-8000-000000000711"},
    {"txn": "00000000-0000-4000-8000-000000000712", "keys": ["Seat:C"]},
    {"txn": "00000000-0000-4000-8000-000000000713", "keys": ["seat:C"], "amount": 0},
    {"txn": "00000000-0000-4000-8000-000000000714", "keys": ["seat:C"], "colour": "red"},
    "just a string",
    {"keys": ["seat:C"]},
    {"txn": "00000000-0000-4000-8000-000000000715", "keys": []},
    {"txn": "00000000-0000-4000-8000-000000000716", "keys": "seat:C"},
    {"txn": "00000000-0000-4000-8000-000000000717", "keys": ["seat:C", "seat:C"]},
    {"txn": "00000000-0000-4000-8000-000000000718", "keys": ["seat:C"], "amount": -2},
    {"txn": "00000000-0000-4000-8000-000000000719", "keys": ["seat:C"], "amount": 1.5},
    {"txn": "00000000-0000-4000-8000-00000000071a", "keys": ["seat:C"], "amount": "1"},
    {"txn": 42, "keys": ["seat:C"]},
    {"txn": "00000000-0000-4000-8000-00000000071b", "keys": [null]},
    {"txn": "00000000-0000-4000-8000-00000000071c", "keys": ["seat:C"], "amount": 99999999999999999999},
    null,
    {"txn": "00000000-0000-4000-8000-00000000071d", "keys": ["seat:C"]}
  ]');
SELECT txn, kind, keys FROM allot.events WHERE seq > :events_before ORDER BY seq;
SELECT key, used FROM allot.counters WHERE key = 'seat:C';

-------------------------------------------------------------------------------
-- The same txn twice in one batch: the second is a replay (nothing more
-- counted) -- also with its keys in another order. With other keys or
-- another amount it is an error on that item only. A txn granted by an
-- earlier call is a replay too.
-------------------------------------------------------------------------------
SELECT idx, granted, replayed, denied_keys, error
  FROM allot.redeem_many('[
    {"txn": "00000000-0000-4000-8000-000000000720", "keys": ["seat:D", "fan:F5"]},
    {"txn": "00000000-0000-4000-8000-000000000720", "keys": ["fan:F5", "seat:D"]},
    {"txn": "00000000-0000-4000-8000-000000000720", "keys": ["seat:D"]},
    {"txn": "00000000-0000-4000-8000-000000000720", "keys": ["seat:D", "fan:F5"], "amount": 2},
    {"txn": "00000000-0000-4000-8000-000000000700", "keys": ["seat:A", "fan:F1"]},
    {"txn": "00000000-0000-4000-8000-000000000700", "keys": ["seat:A"]},
    {"txn": "00000000-0000-4000-8000-000000000721", "keys": ["seat:D"]}
  ]');
SELECT key, used FROM allot.counters WHERE key IN ('seat:D', 'fan:F5') ORDER BY key;
SELECT count(*) AS grants_of_720 FROM allot.events
 WHERE txn = '00000000-0000-4000-8000-000000000720' AND kind = 'grant';

-- A denied txn in a batch may be retried later in the same batch, and is
-- decided afresh (here: still no room).
SELECT idx, granted, replayed, denied_keys
  FROM allot.redeem_many('[
    {"txn": "00000000-0000-4000-8000-000000000730", "keys": ["fan:F5"]},
    {"txn": "00000000-0000-4000-8000-000000000730", "keys": ["fan:F5"]}
  ]');

-- An empty array: no rows, no error.
SELECT count(*) AS rows FROM allot.redeem_many('[]');

-------------------------------------------------------------------------------
-- Whole-call errors: the call fails, nothing is decided.
-------------------------------------------------------------------------------
SELECT count(*) AS events_before FROM allot.events \gset
SELECT * FROM allot.redeem_many(NULL);
SELECT * FROM allot.redeem_many('{"txn": "00000000-0000-4000-8000-000000000740", "keys": ["seat:E"]}');
SELECT * FROM allot.redeem_many('"a string"');
SELECT * FROM allot.redeem_many('[{');
-- more than 10,000 items (even valid ones): refused as a whole.
SELECT count(*) FROM allot.redeem_many(
  (SELECT jsonb_agg(jsonb_build_object(
            'txn', format('00000000-0000-4000-9000-%s', lpad(to_hex(i), 12, '0')),
            'keys', jsonb_build_array('bulk:B' || (i % 100))))
     FROM generate_series(1, 10001) AS i));
\set VERBOSITY sqlstate
SELECT * FROM allot.redeem_many(NULL);
SELECT * FROM allot.redeem_many('{}');
SELECT * FROM allot.redeem_many('[{');
\set VERBOSITY default
SELECT count(*) - :events_before AS new_events FROM allot.events;

-------------------------------------------------------------------------------
-- 10,000 items is the most a call may carry, and works: 100 keys of a class
-- limited to 60 a day, 100 requests each: 6,000 granted, 4,000 denied.
-------------------------------------------------------------------------------
SELECT allot.set_limit('bulk:*', 60, '1 day');   -- 3
CREATE TEMP TABLE bulk AS
SELECT * FROM allot.redeem_many(
  (SELECT jsonb_agg(jsonb_build_object(
            'txn', format('00000000-0000-4000-9000-%s', lpad(to_hex(i), 12, '0')),
            'keys', jsonb_build_array('bulk:B' || (i % 100))))
     FROM generate_series(1, 10000) AS i));
SELECT count(*) AS items, count(*) FILTER (WHERE granted) AS granted,
       count(*) FILTER (WHERE NOT granted AND error IS NULL) AS denied,
       count(*) FILTER (WHERE error IS NOT NULL) AS errors,
       min(idx) AS first_idx, max(idx) AS last_idx, count(DISTINCT idx) AS distinct_idx
  FROM bulk;
-- Decided in input order: every key's first 60 requests (those with idx
-- below 6000) were granted, and only those.
SELECT bool_and(granted = (idx < 6000)) AS in_order FROM bulk;
SELECT count(*) AS keys, min(used), max(used), sum(used) FROM allot.counters WHERE key LIKE 'bulk:%';
SELECT count(*) AS violations FROM allot.violations;
SELECT * FROM allot.verify();

DROP EXTENSION pg_allot CASCADE;
