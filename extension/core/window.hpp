// Where a limit counts a redemption made at time `now`, and which counter
// rows its check must add up.
//
// Counters are rows (key, limit_id, window_start) -> used.
//  - total limit:   one row, window_start = lower(valid) (-infinity if open).
//  - fixed window:  one row per window; windows are anchored at lower(valid)
//                   when finite, else 2000-01-01 UTC, and step by `per`
//                   (calendar months when per has months).
//  - sliding:       one row per sub-bucket of length per/kSlidingBuckets.
//                   The check adds every bucket that overlaps (now-per, now]
//                   and every later one. Counting a whole bucket is
//                   conservative: a window of length per can never hold more
//                   than max, at the price of up to one bucket of extra wait.
#pragma once

#include <optional>

#include "limit_rule.hpp"
#include "time.hpp"

namespace allot {

constexpr std::int64_t kSlidingBuckets = 60;

// A half-open range [from, to) of counter window_start values.
struct StartSpan {
  Timestamp from;
  Timestamp to;
  bool contains(Timestamp start) const { return start >= from && start < to; }
};

struct Placement {
  Timestamp counted_start;  // the counter row a grant at `now` goes to
  StartSpan check_span;     // the counter rows the check at `now` sums
};

Timestamp window_anchor(const LimitRule& rule);
Duration sliding_bucket_length(const Interval& per);
Placement place(const LimitRule& rule, Timestamp now);

// Start of the fixed window (per set, not sliding) holding `now`, and the
// start of the next one.
Timestamp fixed_window_start(const LimitRule& rule, Timestamp now);
Timestamp next_fixed_window_start(const LimitRule& rule, Timestamp now);

// Bounds shown in allot.usage: the current window's start, and the span of
// counter rows that make up its usage.
struct CurrentWindow {
  Timestamp window_start;
  StartSpan rows;
};
CurrentWindow current_window(const LimitRule& rule, Timestamp now);

}  // namespace allot
