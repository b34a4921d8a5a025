// A limit as the decision logic sees it: one row of allot.limits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "time.hpp"

namespace allot {

enum class Mode { kEnforce, kShadow };

// A tstzrange: when the limit applies. Infinite bounds use kMinusInfinity /
// kPlusInfinity and are always exclusive.
struct ValidRange {
  Timestamp lower = kMinusInfinity;
  Timestamp upper = kPlusInfinity;
  bool lower_inclusive = false;
  bool upper_inclusive = false;

  bool contains(Timestamp t) const {
    const bool above = lower == kMinusInfinity || t > lower || (lower_inclusive && t == lower);
    const bool below = upper == kPlusInfinity || t < upper || (upper_inclusive && t == upper);
    return above && below;
  }
  bool lower_finite() const { return lower != kMinusInfinity; }
};

struct LimitRule {
  std::int64_t id = 0;
  std::string scope;
  std::int64_t max = 0;
  std::optional<Interval> per;  // nullopt: a total over `valid`
  bool sliding = false;
  ValidRange valid;
  Mode mode = Mode::kEnforce;
};

// Two limits are "the same window" (API.md: an exact-key limit overrides a
// class limit with the same per and sliding) when these agree.
inline bool same_window_shape(const LimitRule& a, const LimitRule& b) {
  return a.sliding == b.sliding && a.per.has_value() == b.per.has_value() &&
         (!a.per || *a.per == *b.per);
}

// Throws BadInput unless (max, per, sliding, mode) make a usable limit.
void validate_limit_shape(std::int64_t max, const std::optional<Interval>& per, bool sliding);

Mode parse_mode(const std::string& text);  // throws BadInput
const char* mode_name(Mode mode);

}  // namespace allot
