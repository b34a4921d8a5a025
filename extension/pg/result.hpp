// Building results for SQL-callable functions: one composite row, or the
// rows of a set-returning function (materialize mode).
#pragma once

#include "guard.hpp"
#include "postgres.hpp"

namespace allot::pg {

// The blessed tuple descriptor of a function returning a composite type.
inline TupleDesc composite_result_desc(FunctionCallInfo fcinfo) {
  return pg_call([&] {
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
      elog(ERROR, "pg_allot: function must return a composite type");
    return BlessTupleDesc(desc);
  });
}

inline Datum composite_datum(TupleDesc desc, Datum* values, bool* nulls) {
  return pg_call([&] { return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)); });
}

// Rows of a set-returning function: construct once, then add() each row.
class ResultSet {
 public:
  explicit ResultSet(FunctionCallInfo fcinfo) {
    pg_call([&] { InitMaterializedSRF(fcinfo, 0); });
    info_ = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  }
  void add(Datum* values, bool* nulls) {
    pg_call([&] { tuplestore_putvalues(info_->setResult, info_->setDesc, values, nulls); });
  }

 private:
  ReturnSetInfo* info_;
};

}  // namespace allot::pg
