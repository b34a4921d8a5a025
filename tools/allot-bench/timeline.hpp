// --timeline: one CSV row per second of the run, for charts.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <vector>

namespace bench {

struct TimelineRow {
  int second = 0;                                                // 1 = the first second of the run
  std::uint64_t granted_fast = 0, granted_slow = 0, denied = 0;  // during that second
  std::optional<std::int64_t> hot_used;  // sampled at its end; empty without a hot voucher
};

// Header "second,granted_fast,granted_slow,denied,hot_used"; an unknown
// hot_used is an empty field.
void write_timeline_csv(std::ostream& out, const std::vector<TimelineRow>& rows);

}  // namespace bench
