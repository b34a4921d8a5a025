\set voucher random_zipfian(1, 100000, 1.1)
\set user random_zipfian(1, 1000000, 1.1)
\set shop random_zipfian(1, 10000, 1.1)
-- Baseline: the naive row-lock approach. One guarded UPDATE per entity plus
-- a log row, in one transaction. (A full implementation would roll back
-- when an UPDATE matches no row; with limits far away none does here.)
-- Keys as in redeem_zipf.sql.
BEGIN;
UPDATE naive_entity SET used = used + 1 WHERE id = k('voucher', 'V' || :voucher) AND used < lim;
UPDATE naive_entity SET used = used + 1 WHERE id = k('user', 'U' || :user) AND used < lim;
UPDATE naive_entity SET used = used + 1 WHERE id = k('shop', 'S' || :shop) AND used < lim;
INSERT INTO bench_log (txn, voucher, at) VALUES (gen_random_uuid(), :voucher, now());
COMMIT;
