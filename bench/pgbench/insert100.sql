-- Baseline for batches: one durable transaction inserting 100 rows.
INSERT INTO bench_log (txn, voucher, at)
  SELECT gen_random_uuid(), g, now() FROM generate_series(1, 100) g;
