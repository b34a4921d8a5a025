\set voucher random_zipfian(1, 100000, 1.1)
\set user random_zipfian(1, 1000000, 1.1)
\set shop random_zipfian(1, 10000, 1.1)
-- zipf: redeem() over 3 keys, each Zipf(1.1): voucher, user, shop.
SELECT granted FROM allot.redeem(gen_random_uuid(),
  ARRAY[k('voucher', 'V' || :voucher), k('user', 'U' || :user), k('shop', 'S' || :shop)]);
