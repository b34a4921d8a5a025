-- One shopper's redemption in the flash-sale demo. Half the traffic scans
-- the viral coupon card in the store window; the rest redeems vouchers from
-- a long Zipf tail. Users are Zipf-distributed too (some are very eager).
-- Keys are built with k(kind, id) (bench/keys.sql): pgbench would rewrite
-- the ":U" of a literal 'user:U1'.
\set hot random(1, 100)
\set voucher random_zipfian(1, 5000, 1.1)
\set user random_zipfian(1, 200000, 1.05)
\set shop random(1, 40)
\if :hot <= 50
SELECT granted FROM allot.redeem(gen_random_uuid(),
  ARRAY[k('voucher', 'CARD-HOT'), k('voucher', 'CARD-HOT') || '/' || k('user', 'U' || :user),
        k('user', 'U' || :user), k('shop', 'S' || :shop)]);
\else
SELECT granted FROM allot.redeem(gen_random_uuid(),
  ARRAY[k('voucher', 'V' || :voucher), k('voucher', 'V' || :voucher) || '/' || k('user', 'U' || :user),
        k('user', 'U' || :user), k('shop', 'S' || :shop)]);
\endif
