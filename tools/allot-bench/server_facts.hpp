// What the monitor connection learned about the server, as plain values so
// the report (and its tests) need no connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bench {

struct ServerStats {
  // NULL (nullopt) when pg_allot is not in shared_preload_libraries.
  std::optional<std::int64_t> promotions, demotions;
};

// The final soundness checks.
struct Checks {
  std::optional<std::int64_t> enforced_violations;  // nullopt: the query failed
  std::vector<std::string> violation_rows;          // the first few, for the report
  std::optional<std::int64_t> verify_count;         // nullopt: the query failed
  std::vector<std::string> verify_rows;             // the first few
  std::vector<std::string> problems;                // why a query failed
};

}  // namespace bench
