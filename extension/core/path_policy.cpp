#include "path_policy.hpp"

#include <cmath>

namespace allot {

double seconds_left(std::int64_t headroom, double rate) {
  if (headroom <= 0) return 0;
  if (rate <= 1e-9) return INFINITY;
  return static_cast<double>(headroom) / rate;
}

bool should_go_slow(std::int64_t headroom, double rate, double slow_below_seconds) {
  if (headroom <= 0) return false;
  return seconds_left(headroom, rate) < slow_below_seconds;
}

bool rate_can_go_slow(double rate, double slow_below_seconds) {
  return should_go_slow(1, rate, slow_below_seconds);
}

bool should_go_fast(std::int64_t headroom, double rate, double fast_above_seconds) {
  return seconds_left(headroom, rate) > fast_above_seconds;
}

}  // namespace allot
