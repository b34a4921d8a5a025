// SQL entry points: allot.redeem, allot.redeem_many, allot.can_redeem,
// allot.reverse. Each parses its arguments, runs the engine inside an SPI
// session, closes the session, and only then builds its result in the
// caller's memory context (SPI_finish frees SPI's).
#include "../core/batch_json.hpp"
#include "../core/error.hpp"
#include "../core/utf8.hpp"
#include "convert.hpp"
#include "engine.hpp"
#include "guard.hpp"
#include "result.hpp"
#include "spi.hpp"
#include "sql_args.hpp"

using namespace allot;
using namespace allot::pg;

namespace {

// Fills the columns of allot.decision starting at values[first].
void decision_columns(const ItemResult& r, Datum* values, bool* nulls, int first) {
  values[first] = BoolGetDatum(r.granted);
  values[first + 1] = BoolGetDatum(r.replayed);
  if (r.path.empty())
    nulls[first + 2] = true;
  else
    values[first + 2] = string_to_text(r.path);
  values[first + 3] = strings_to_text_array(r.denied_keys);
  if (r.retry_after)
    values[first + 4] = duration_to_interval_datum(*r.retry_after);
  else
    nulls[first + 4] = true;
}

std::string jsonb_text(Datum d) {
  return pg_call([&] {
    Jsonb* jb = DatumGetJsonbP(d);
    return JsonbToCString(nullptr, &jb->root, VARSIZE(jb));
  });
}

}  // namespace

extern "C" {

PG_FUNCTION_INFO_V1(allot_redeem);
Datum allot_redeem(PG_FUNCTION_ARGS) {
  return run_guarded([&]() -> Datum {
    BatchItem item;
    item.request.emplace();
    item.request->txn = datum_to_uuid(required_arg(fcinfo, 0, "txn"));
    item.request->keys = text_array_to_strings(required_arg(fcinfo, 1, "keys"), "keys");
    validate_keys(item.request->keys);
    item.request->amount = DatumGetInt64(required_arg(fcinfo, 2, "amount"));
    validate_amount(item.request->amount);

    SpiSession spi;
    const std::vector<ItemResult> results = redeem_batch({item}, /*raise_conflicts=*/true);
    spi.finish();

    TupleDesc desc = composite_result_desc(fcinfo);
    Datum values[5];
    bool nulls[5] = {false, false, false, false, false};
    decision_columns(results.front(), values, nulls, 0);
    return composite_datum(desc, values, nulls);
  });
}

PG_FUNCTION_INFO_V1(allot_redeem_many);
Datum allot_redeem_many(PG_FUNCTION_ARGS) {
  return run_guarded([&]() -> Datum {
    const std::vector<BatchItem> items =
        parse_batch(jsonb_text(required_arg(fcinfo, 0, "requests")));
    SpiSession spi;
    const std::vector<ItemResult> results = redeem_batch(items, /*raise_conflicts=*/false);
    spi.finish();

    ResultSet out(fcinfo);
    for (std::size_t i = 0; i < results.size(); ++i) {
      Datum values[7];
      bool nulls[7] = {false, false, false, false, false, false, false};
      values[0] = Int32GetDatum(static_cast<int32>(i));
      decision_columns(results[i], values, nulls, 1);
      if (results[i].error)
        values[6] = string_to_text(*results[i].error);
      else
        nulls[6] = true;
      out.add(values, nulls);
    }
    return Datum(0);
  });
}

PG_FUNCTION_INFO_V1(allot_can_redeem);
Datum allot_can_redeem(PG_FUNCTION_ARGS) {
  return run_guarded([&]() -> Datum {
    const std::vector<std::string> keys =
        text_array_to_strings(required_arg(fcinfo, 0, "keys"), "keys");
    validate_keys(keys);
    const std::int64_t amount = DatumGetInt64(required_arg(fcinfo, 1, "amount"));
    validate_amount(amount);

    SpiSession spi;
    const std::vector<KeyCheckRow> rows = check_keys(keys, amount);
    spi.finish();

    ResultSet out(fcinfo);
    for (const KeyCheckRow& row : rows) {
      Datum values[5];
      bool nulls[5] = {false, false, false, false, false};
      values[0] = string_to_text(row.key);
      values[1] = Int64GetDatum(row.limit_id);
      values[2] = BoolGetDatum(row.allowed);
      values[3] = Int64GetDatum(row.remaining);
      if (row.retry_after)
        values[4] = duration_to_interval_datum(*row.retry_after);
      else
        nulls[4] = true;
      out.add(values, nulls);
    }
    return Datum(0);
  });
}

PG_FUNCTION_INFO_V1(allot_reverse);
Datum allot_reverse(PG_FUNCTION_ARGS) {
  return run_guarded([&]() -> Datum {
    const Uuid txn = datum_to_uuid(required_arg(fcinfo, 0, "txn"));
    std::optional<std::string> reason;
    if (!PG_ARGISNULL(1)) {
      reason = text_to_string(PG_GETARG_DATUM(1));
      // It goes into the reversal's JSON detail, which must be UTF-8 (in a
      // SQL_ASCII database any bytes can arrive).
      require_utf8(*reason, "reason");
    }
    SpiSession spi;
    const bool reversed = reverse_txn(txn, reason);
    spi.finish();
    return BoolGetDatum(reversed);
  });
}

}  // extern "C"
