#include "spi.hpp"

#include "convert.hpp"
#include "guard.hpp"

namespace allot::pg {

SPIPlanPtr Statement::plan() {
  if (plan_) return plan_;
  plan_ = pg_call([&] {
    // Generic plans: our statements are small, index-driven and the same
    // plan is right for every parameter value, so re-planning each call
    // with the values (custom plans) is wasted work (~25% of a redeem).
    SPIPlanPtr p = SPI_prepare_cursor(sql_.c_str(), static_cast<int>(arg_types_.size()), arg_types_.data(),
                                      CURSOR_OPT_GENERIC_PLAN);
    if (p == nullptr)
      elog(ERROR, "pg_allot: could not prepare \"%s\": %s", sql_.c_str(),
           SPI_result_code_string(SPI_result));
    if (SPI_keepplan(p) != 0) elog(ERROR, "pg_allot: could not keep plan for \"%s\"", sql_.c_str());
    return p;
  });
  return plan_;
}

Rows execute(Statement& stmt, std::initializer_list<Arg> args, Snap snap) {
  SPIPlanPtr plan = stmt.plan();
  std::vector<Datum> values;
  std::vector<char> nulls;
  values.reserve(args.size());
  nulls.reserve(args.size() + 1);
  for (const Arg& a : args) {
    values.push_back(a.value);
    nulls.push_back(a.is_null ? 'n' : ' ');
  }
  nulls.push_back('\0');
  const char* sql = stmt.sql();
  pg_call([&] {
    // The snapshot is copied and given the current command id by SPI, so
    // the statement also sees this transaction's own earlier writes.
    const Snapshot snapshot = snap == Snap::kAfterLocks ? GetLatestSnapshot() : InvalidSnapshot;
    int rc = SPI_execute_snapshot(plan, values.data(), nulls.data(), snapshot, InvalidSnapshot,
                                  /*read_only=*/false, /*fire_triggers=*/true, 0);
    if (rc < 0) elog(ERROR, "pg_allot: \"%s\" failed: %s", sql, SPI_result_code_string(rc));
  });
  return Rows();
}

std::uint64_t processed() { return SPI_processed; }

std::uint64_t Rows::size() const { return SPI_tuptable ? SPI_processed : 0; }

bool Rows::is_null(std::uint64_t row, int column) const {
  bool null = false;
  SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, column, &null);
  return null;
}

Datum Rows::datum(std::uint64_t row, int column) const {
  bool null = false;
  return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, column, &null);
}

std::int64_t Rows::get_int64(std::uint64_t row, int column) const {
  return DatumGetInt64(datum(row, column));
}

double Rows::get_double(std::uint64_t row, int column) const {
  return DatumGetFloat8(datum(row, column));
}

bool Rows::get_bool(std::uint64_t row, int column) const {
  return DatumGetBool(datum(row, column));
}

std::string Rows::get_text(std::uint64_t row, int column) const {
  return text_to_string(datum(row, column));
}

SpiSession::SpiSession() {
  pg_call([] {
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "pg_allot: SPI_connect failed");
  });
}

void SpiSession::finish() {
  pg_call([] { SPI_finish(); });
}

}  // namespace allot::pg
