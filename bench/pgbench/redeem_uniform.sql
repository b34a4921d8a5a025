\set voucher random(1, 100000)
\set user random(1, 1000000)
\set shop random(1, 10000)
-- uniform: redeem() over 3 keys, each uniform (voucher, user, shop).
SELECT granted FROM allot.redeem(gen_random_uuid(),
  ARRAY[k('voucher', 'V' || :voucher), k('user', 'U' || :user), k('shop', 'S' || :shop)]);
