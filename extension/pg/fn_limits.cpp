// SQL entry points for limits (allot.set_limit, allot.drop_limit) and the
// window helpers the views use.
#include "../core/key.hpp"
#include "../core/limit_rule.hpp"
#include "../core/window.hpp"
#include "convert.hpp"
#include "guard.hpp"
#include "result.hpp"
#include "settings.hpp"
#include "spi.hpp"
#include "sql_args.hpp"

using namespace allot;
using namespace allot::pg;

namespace {

std::optional<allot::Interval> optional_interval(FunctionCallInfo fcinfo, int n) {
  if (PG_ARGISNULL(n)) return std::nullopt;
  return datum_to_interval(PG_GETARG_DATUM(n));
}

std::string per_identity(const std::optional<allot::Interval>& per) {
  if (!per) return "total";
  return "m" + std::to_string(per->months) + "/us" + std::to_string(per->fixed_micros());
}

}  // namespace

extern "C" {

PG_FUNCTION_INFO_V1(allot_set_limit);
Datum allot_set_limit(PG_FUNCTION_ARGS) {
  return run_guarded([&]() -> Datum {
    const std::string scope = text_to_string(required_arg(fcinfo, 0, "scope"));
    parse_scope(scope);
    const std::int64_t max = DatumGetInt64(required_arg(fcinfo, 1, "max"));
    const std::optional<allot::Interval> per = optional_interval(fcinfo, 2);
    const bool sliding = DatumGetBool(required_arg(fcinfo, 3, "sliding"));
    validate_limit_shape(max, per, sliding);
    const Datum valid = required_arg(fcinfo, 4, "valid");
    datum_to_valid_range(valid);  // rejects an empty range
    const std::string mode = text_to_string(required_arg(fcinfo, 5, "mode"));
    parse_mode(mode);

    static Statement upsert(
        "INSERT INTO allot.limits (scope, max, per, sliding, valid, mode) "
        "VALUES ($1, $2, $3, $4, $5, $6) "
        "ON CONFLICT (scope, allot._per_identity(per), sliding, valid) "
        "DO UPDATE SET max = EXCLUDED.max, mode = EXCLUDED.mode, updated_at = pg_catalog.now() "
        "RETURNING id",
        {TEXTOID, INT8OID, INTERVALOID, BOOLOID, TSTZRANGEOID, TEXTOID});
    SpiSession spi;
    Rows rows = execute(upsert, {string_to_text(scope), Int64GetDatum(max),
                                 per ? Arg(PG_GETARG_DATUM(2)) : Arg::null(), BoolGetDatum(sliding),
                                 valid, string_to_text(mode)});
    const std::int64_t id = rows.get_int64(0, 1);
    spi.finish();
    return Int64GetDatum(id);
  });
}

PG_FUNCTION_INFO_V1(allot_drop_limit);
Datum allot_drop_limit(PG_FUNCTION_ARGS) {
  return run_guarded([&]() -> Datum {
    const std::string scope = text_to_string(required_arg(fcinfo, 0, "scope"));
    parse_scope(scope);
    const std::optional<allot::Interval> per = optional_interval(fcinfo, 1);
    const bool sliding = DatumGetBool(required_arg(fcinfo, 2, "sliding"));

    static Statement drop(
        "WITH gone AS (DELETE FROM allot.limits "
        "  WHERE scope = $1 AND allot._per_identity(per) = $2 AND sliding = $3 RETURNING id), "
        "counters AS (DELETE FROM allot.counters WHERE limit_id IN (SELECT id FROM gone)) "
        "SELECT pg_catalog.count(*)::int4 FROM gone",
        {TEXTOID, TEXTOID, BOOLOID});
    SpiSession spi;
    Rows rows = execute(
        drop, {string_to_text(scope), string_to_text(per_identity(per)), BoolGetDatum(sliding)});
    const int32 dropped = DatumGetInt32(rows.datum(0, 1));
    spi.finish();
    return Int32GetDatum(dropped);
  });
}

PG_FUNCTION_INFO_V1(allot_per_identity);
Datum allot_per_identity(PG_FUNCTION_ARGS) {
  return run_guarded(
      [&]() -> Datum { return string_to_text(per_identity(optional_interval(fcinfo, 0))); });
}

// (per, sliding, valid, at) -> (window_start, rows_from, rows_to); NULL
// where the limit cannot apply at `at` or its arguments are not a limit.
PG_FUNCTION_INFO_V1(allot_current_window);
Datum allot_current_window(PG_FUNCTION_ARGS) {
  return run_guarded([&]() -> Datum {
    TupleDesc desc = composite_result_desc(fcinfo);
    Datum values[3] = {0, 0, 0};
    bool nulls[3] = {true, true, true};
    if (!PG_ARGISNULL(1) && !PG_ARGISNULL(2) && !PG_ARGISNULL(3)) {
      LimitRule rule;
      rule.max = 1;
      rule.per = optional_interval(fcinfo, 0);
      rule.sliding = PG_GETARG_BOOL(1);
      rule.valid = datum_to_valid_range(PG_GETARG_DATUM(2));
      validate_limit_shape(rule.max, rule.per, rule.sliding);
      const CurrentWindow w = current_window(rule, PG_GETARG_TIMESTAMPTZ(3));
      values[0] = TimestampTzGetDatum(w.window_start);
      values[1] = TimestampTzGetDatum(w.rows.from);
      values[2] = TimestampTzGetDatum(w.rows.to);
      nulls[0] = nulls[1] = nulls[2] = false;
    }
    return composite_datum(desc, values, nulls);
  });
}

}  // extern "C"
