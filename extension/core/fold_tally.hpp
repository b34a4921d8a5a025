// What one fold adds to each counter row. The rollup reads the fast-path
// windows that grants counted (and reversals gave back) from the event log
// and sums them here, per (key, limit, window_start) by value, so that one
// upsert writes each counter row once, however many events touched it and
// however its window was spelled in the log.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "time.hpp"
#include "usage_ledger.hpp"

namespace allot {

class FoldTally {
 public:
  // Adds units (negative for a reversal) to the row. Throws BadInput
  // (kNumericOutOfRange) when the row's sum leaves the int64 range.
  void add(std::string_view key, std::int64_t limit_id, Timestamp window_start,
           std::int64_t units);

  // Distinct rows so far.
  std::size_t size() const { return sums_.size(); }

  // The rows, ordered by key (bytewise, as COLLATE "C"), limit, window, and
  // forgets them. The order is the one every writer of counters locks
  // rows in. Units are net (grants minus reversals): 0 or negative too.
  std::vector<CounterDelta> take_sorted();

 private:
  struct RowId {
    std::string key;
    std::int64_t limit_id;
    Timestamp window_start;
    bool operator==(const RowId& o) const {
      return limit_id == o.limit_id && window_start == o.window_start && key == o.key;
    }
  };
  struct RowIdHash {
    std::size_t operator()(const RowId& r) const;
  };
  std::unordered_map<RowId, std::int64_t, RowIdHash> sums_;
};

}  // namespace allot
