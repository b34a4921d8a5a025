// SPI with prepared, kept plans. A Statement is declared once (static) with
// its SQL and parameter types; its plan is prepared on first use in a
// backend and kept for the backend's life. It is a generic plan, built with
// sequential scans and hash and merge joins disabled (every statement here
// is a lookup by key; Planning::kPlannersChoice opts out), and built again
// the same way whenever PostgreSQL drops it (the tables it uses changed, or
// were analyzed).
//
// The SQL runs with the rights of the extension owner (SECURITY DEFINER) or
// of the superuser (the rollup worker), so no name in it may resolve to
// something a caller put on its search_path: tables and functions are
// schema-qualified (allot., pg_catalog.), and operators and type names
// resolve in pg_catalog because every path here is pinned to
// "pg_catalog, pg_temp" (the SET clause of each SQL entry point; the worker
// pins it at start). One exception in form only: unnest() of several arrays
// in FROM stays unqualified, because the parser itself expands exactly that
// spelling into pg_catalog.unnest() of each array.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "postgres.hpp"

namespace allot::pg {

// How a statement's generic plan is made.
enum class Planning {
  kIndexes,          // sequential scans and hash and merge joins disabled
  kPlannersChoice,   // as the planner likes (a statement over whole tables)
};

class Statement {
 public:
  Statement(std::string sql, std::initializer_list<Oid> arg_types,
            Planning planning = Planning::kIndexes)
      : sql_(std::move(sql)), arg_types_(arg_types), planning_(planning) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  const char* sql() const { return sql_.c_str(); }
  SPIPlanPtr plan();

 private:
  std::string sql_;
  std::vector<Oid> arg_types_;
  Planning planning_;
  SPIPlanPtr plan_ = nullptr;
};

// One argument: a Datum or SQL NULL.
struct Arg {
  Datum value;
  bool is_null;
  Arg(Datum v) : value(v), is_null(false) {}  // NOLINT: implicit on purpose
  static Arg null() { return Arg(); }

 private:
  Arg() : value(0), is_null(true) {}
};

// Rows of the last execute(), read while the SPI connection is open.
class Rows {
 public:
  std::uint64_t size() const;
  bool is_null(std::uint64_t row, int column) const;
  Datum datum(std::uint64_t row, int column) const;  // column is 1-based
  std::int64_t get_int64(std::uint64_t row, int column) const;
  bool get_bool(std::uint64_t row, int column) const;
  double get_double(std::uint64_t row, int column) const;
  std::string get_text(std::uint64_t row, int column) const;
};

// Which snapshot a statement reads with.
enum class Snap {
  // The transaction's: a new one per statement in READ COMMITTED, the
  // first one in REPEATABLE READ / SERIALIZABLE.
  kDefault,
  // The latest committed state, whatever the isolation level (as
  // PostgreSQL's own foreign-key checks do). For reads that decide under
  // row locks just taken: the locks guarantee nothing changes what they
  // protect any more, and this snapshot guarantees seeing every change
  // made before. Without it a REPEATABLE READ transaction would decide on
  // usage as of its first snapshot.
  kAfterLocks,
};

// Runs the statement; returns its rows (or, for DML without RETURNING, an
// empty Rows with processed() rows affected).
Rows execute(Statement& stmt, std::initializer_list<Arg> args, Snap snap = Snap::kDefault);
std::uint64_t processed();

// Frees the rows of the last execute() now, not at the end of the SPI
// session: for loops that run many statements.
void free_rows();

// SPI_connect at construction, SPI_finish by finish(). Deliberately no
// SPI_finish in the destructor: on an error path the transaction is about
// to abort, and abort cleans up SPI itself.
class SpiSession {
 public:
  SpiSession();
  void finish();
  SpiSession(const SpiSession&) = delete;
  SpiSession& operator=(const SpiSession&) = delete;
};

}  // namespace allot::pg
