#include "spi.hpp"

#include "convert.hpp"
#include "guard.hpp"

namespace allot::pg {

namespace {

// Our statements are lookups by key: every one of them is meant to run on
// its indexes, whatever the size of the tables. A generic plan is made once
// and kept; made while a table is small (a new database, or right after
// CREATE EXTENSION), the planner rightly prefers a sequential scan or a
// hash join, and that plan would stay for the backend's life while the
// table grows to millions of rows (measured: 41% of a busy server's CPU in
// one such scan). So the plan is built with sequential scans and hash and
// merge joins disabled, the way a function's SET clause scopes settings.
// JIT is off too: a statement with no index to use (a one-row table) keeps
// its sequential scan at the "disabled" cost, which would otherwise pass
// jit_above_cost and compile the plan on every execution.
void build_index_driven_plan(SPIPlanPtr plan) {
  const int nest_level = NewGUCNestLevel();
  PG_TRY();
  {
    for (const char* setting : {"enable_seqscan", "enable_hashjoin", "enable_mergejoin", "jit"})
      (void)set_config_option(setting, "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true,
                              0, false);
    CachedPlan* built = SPI_plan_get_cached_plan(plan);
    ReleaseCachedPlan(built, CurrentResourceOwner);
  }
  PG_CATCH();
  {
    AtEOXact_GUC(false, nest_level);
    PG_RE_THROW();
  }
  PG_END_TRY();
  AtEOXact_GUC(false, nest_level);  // back to the settings before
}

// Whether the kept generic plan is still there: PostgreSQL drops it when a
// table, index or function it uses changes (DDL, ANALYZE), and would then
// re-plan on its own with the settings of the moment.
bool generic_plan_valid(SPIPlanPtr plan) {
  List* sources = SPI_plan_get_plan_sources(plan);
  if (list_length(sources) != 1) return false;
  const auto* source = static_cast<const CachedPlanSource*>(linitial(sources));
  return source->is_valid && source->gplan != nullptr && source->gplan->is_valid;
}

}  // namespace

SPIPlanPtr Statement::plan() {
  if (!plan_) {
    plan_ = pg_call([&] {
      // Generic plans: our statements are small, index-driven and the same
      // plan is right for every parameter value, so re-planning each call
      // with the values (custom plans) is wasted work (~25% of a redeem).
      SPIPlanPtr p = SPI_prepare_cursor(sql_.c_str(), static_cast<int>(arg_types_.size()),
                                        arg_types_.data(), CURSOR_OPT_GENERIC_PLAN);
      if (p == nullptr)
        elog(ERROR, "pg_allot: could not prepare \"%s\": %s", sql_.c_str(),
             SPI_result_code_string(SPI_result));
      if (SPI_keepplan(p) != 0)
        elog(ERROR, "pg_allot: could not keep plan for \"%s\"", sql_.c_str());
      return p;
    });
  }
  if (planning_ == Planning::kIndexes && !generic_plan_valid(plan_))
    pg_call([&] { build_index_driven_plan(plan_); });
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

void free_rows() {
  pg_call([] { SPI_freetuptable(SPI_tuptable); });
}

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
