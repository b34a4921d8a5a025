-- The demo's rules, as a shop would write them.
SELECT allot.set_limit('voucher:*', 200);                  -- each voucher: 200 in total
SELECT allot.set_limit('voucher:CARD-HOT', 3000);          -- the viral card: 3,000 in total
SELECT allot.set_limit('voucher:*/user:*', 1);             -- one per user per voucher
SELECT allot.set_limit('user:*', 5, '1 day');              -- five per user per day
SELECT allot.set_limit('shop:*', 1500, '1 minute', sliding => true);  -- per shop, any minute
