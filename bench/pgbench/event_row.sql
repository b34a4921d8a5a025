\set user random_zipfian(1, 1000000, 1.1)
\set shop random_zipfian(1, 10000, 1.1)
-- Ceiling: the audit row alone, with no pg_allot code. The INSERT that
-- allot.redeem runs for a grant (same columns, ON CONFLICT on the txn,
-- RETURNING), into bench_events, a copy of allot.events with its indexes,
-- with the keys and the detail of a flash-sale grant. Every redemption
-- writes this row, so redeem() can be no faster than this run.
INSERT INTO bench_events (txn, at, kind, keys, amount, path, detail)
VALUES (gen_random_uuid(), now(), 'grant',
        ARRAY[k('voucher', 'HOT'), k('user', 'U' || :user), k('shop', 'S' || :shop)],
        1, 'fast', sample_grant_detail())
ON CONFLICT (txn) WHERE kind = 'grant' DO NOTHING RETURNING txn, seq;
