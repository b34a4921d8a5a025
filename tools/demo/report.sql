\pset footer off
\echo
\echo '== Decisions ========================================================'
SELECT count(*) FILTER (WHERE kind = 'grant')   AS granted,
       count(*) FILTER (WHERE kind = 'deny')    AS denied,
       count(*) FILTER (WHERE kind = 'reverse') AS reversed
  FROM allot.events;
\echo '== Denials by the limit that said no ================================='
SELECT l.scope, coalesce(l.per::text, 'total') AS per, count(*) AS denials
  FROM allot.events e, jsonb_array_elements(e.detail->'denied') d
  JOIN allot.limits l ON l.id = (d->>'limit_id')::bigint
 WHERE e.kind = 'deny'
 GROUP BY 1, 2 ORDER BY 3 DESC;
\echo '== The viral card against its limit ================================='
SELECT key, used, max, remaining FROM allot.usage WHERE key = 'voucher:CARD-HOT';
\echo '== Busiest vouchers =================================================='
SELECT key, used, max FROM allot.usage
 WHERE key LIKE 'voucher:%' AND key NOT LIKE '%/%' ORDER BY used DESC LIMIT 5;
\echo '== Soundness ========================================================='
SELECT (SELECT count(*) FROM allot.violations WHERE mode = 'enforce') AS over_admitted_windows,
       (SELECT count(*) FROM allot.verify()) AS counter_log_mismatches;
