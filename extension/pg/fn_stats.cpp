// SQL entry points behind allot.stats.
#include "guard.hpp"
#include "result.hpp"
#include "shared_state.hpp"
#include "stats.hpp"

using namespace allot::pg;

extern "C" {

PG_FUNCTION_INFO_V1(allot_stats);
Datum allot_stats(PG_FUNCTION_ARGS) {
  return run_guarded([&]() -> Datum {
    TupleDesc desc = composite_result_desc(fcinfo);
    constexpr int kColumns = 11;
    Datum values[kColumns] = {};
    bool nulls[kColumns];
    for (bool& n : nulls) n = !stats_available();
    const Stat order[] = {Stat::kGrantsFast, Stat::kGrantsSlow, Stat::kDenials,   Stat::kReplays,
                          Stat::kReversals,  Stat::kPromotions, Stat::kDemotions, Stat::kRollups};
    for (int i = 0; i < 8; ++i) values[i] = Int64GetDatum(static_cast<int64>(stat_value(order[i])));
    if (shared_state_available()) {
      values[8] = Int64GetDatum(static_cast<int64>(key_table().used_slots()));
      values[9] = Int64GetDatum(static_cast<int64>(key_table().capacity()));
    }
    values[10] = TimestampTzGetDatum(stats_since());
    return composite_datum(desc, values, nulls);
  });
}

PG_FUNCTION_INFO_V1(allot_note_rollup);
Datum allot_note_rollup(PG_FUNCTION_ARGS) {
  (void)fcinfo;
  count(Stat::kRollups);
  PG_RETURN_VOID();
}

}  // extern "C"
