\set user random(1, 1000000)
\set shop random(1, 10000)
-- hot: every redemption on one voucher (the voucher with id HOT); users and shops uniform.
SELECT granted FROM allot.redeem(gen_random_uuid(),
  ARRAY[k('voucher', 'HOT'), k('user', 'U' || :user), k('shop', 'S' || :shop)]);
