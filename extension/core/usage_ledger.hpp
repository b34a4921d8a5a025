// In-memory view of the counter rows a decision needs: for each (key, limit)
// the rows (window_start -> used) inside the limit's check span. A batch
// loads it once, then decides its items in order, adding each grant so the
// next item sees it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "time.hpp"

namespace allot {

// Units to add to (or take from) one counter row: (key, limit, window).
struct CounterDelta {
  std::string key;
  std::int64_t limit_id;
  Timestamp window_start;
  std::int64_t units;
};

class UsageLedger {
 public:
  using Rows = std::map<Timestamp, std::int64_t>;  // window_start -> used

  void add(const std::string& key, std::int64_t limit_id, Timestamp window_start,
           std::int64_t units) {
    rows_[{key, limit_id}][window_start] += units;
  }

  // Forgets every row of (key, limit) and sets one: a fast-path key's
  // usage comes from its meter, one window at a time.
  void replace(const std::string& key, std::int64_t limit_id, Timestamp window_start,
               std::int64_t units) {
    Rows& rows = rows_[{key, limit_id}];
    rows.clear();
    rows[window_start] = units;
  }

  // Sum of rows whose window_start is in [from, to).
  std::int64_t used(const std::string& key, std::int64_t limit_id, Timestamp from,
                    Timestamp to) const;

  // The rows of one (key, limit), empty when none.
  const Rows& rows(const std::string& key, std::int64_t limit_id) const;

 private:
  std::map<std::pair<std::string, std::int64_t>, Rows> rows_;
};

}  // namespace allot
