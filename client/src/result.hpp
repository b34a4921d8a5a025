// Rows of the prepared statements (statements.hpp) -> client value types.
#pragma once

#include <pqxx/pqxx>

#include "allot/types.hpp"

namespace allot::detail {

Decision decision_from_row(const pqxx::row& row);
ItemDecision item_decision_from_row(const pqxx::row& row);
KeyCheck key_check_from_row(const pqxx::row& row);

// The single value of a one-row, one-column result.
template <typename T>
T single_value(const pqxx::result& r) {
  if (r.size() != 1 || r.columns() != 1)
    throw pqxx::unexpected_rows("expected one value, got " + std::to_string(r.size()) + " rows");
  return r[0][0].as<T>();
}

}  // namespace allot::detail
