\set voucher random_zipfian(1, 100000, 1.1)
\set user random_zipfian(1, 1000000, 1.1)
\set shop random_zipfian(1, 10000, 1.1)
\set hot random(0, 1)
-- flash: half of all redemptions on one voucher (the voucher with id HOT), the rest as
-- in zipf; users and shops Zipf(1.1) as in zipf.
\if :hot
SELECT granted FROM allot.redeem(gen_random_uuid(),
  ARRAY[k('voucher', 'HOT'), k('user', 'U' || :user), k('shop', 'S' || :shop)]);
\else
SELECT granted FROM allot.redeem(gen_random_uuid(),
  ARRAY[k('voucher', 'V' || :voucher), k('user', 'U' || :user), k('shop', 'S' || :shop)]);
\endif
