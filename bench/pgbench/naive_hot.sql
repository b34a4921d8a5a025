\set user random(1, 1000000)
\set shop random(1, 10000)
-- Baseline: the naive row-lock approach. One guarded UPDATE per entity plus
-- a log row, in one transaction. (A full implementation would roll back
-- when an UPDATE matches no row; with limits far away none does here.)
-- Keys as in redeem_hot.sql: every transaction on the voucher HOT (logged as voucher 0).
BEGIN;
UPDATE naive_entity SET used = used + 1 WHERE id = k('voucher', 'HOT') AND used < lim;
UPDATE naive_entity SET used = used + 1 WHERE id = k('user', 'U' || :user) AND used < lim;
UPDATE naive_entity SET used = used + 1 WHERE id = k('shop', 'S' || :shop) AND used < lim;
INSERT INTO bench_log (txn, voucher, at) VALUES (gen_random_uuid(), 0, now());
COMMIT;
