-- pgbench rewrites every ":name" in a script, even inside string literals,
-- so pgbench scripts cannot spell keys like 'voucher:V1'. They call k()
-- instead: k('voucher', 'V1') = 'voucher:V1'. (Inlined by the planner.)
CREATE FUNCTION public.k(kind text, id text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT kind || ':' || id $$;
