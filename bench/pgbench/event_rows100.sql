-- Ceiling for batches: the 100 audit rows of a redeem_many of 100 alone,
-- with no pg_allot code. The INSERT that allot.redeem_many runs (same
-- columns, ON CONFLICT on the txn, RETURNING), into bench_events, a copy of
-- allot.events with its indexes; rows shaped like a Zipf grant's.
INSERT INTO bench_events (txn, at, kind, keys, amount, path, detail)
  SELECT gen_random_uuid(), now(), 'grant',
         ARRAY[k('voucher', 'V' || g), k('user', 'U' || g), k('shop', 'S' || g)],
         1, 'fast', sample_grant_detail()
  FROM generate_series(1, 100) g
ON CONFLICT (txn) WHERE kind = 'grant' DO NOTHING RETURNING txn, seq;
