\set voucher random(1, 100000)
-- Baseline: a bare one-row durable INSERT transaction.
INSERT INTO bench_log (txn, voucher, at) VALUES (gen_random_uuid(), :voucher, now());
