// The live progress line (stderr, once a second).
#pragma once

#include <cstdint>
#include <string>

#include "stats.hpp"

namespace bench {

// "  12s   3,456 req/s  granted 12,345  denied 2,345  errors 0  p99 4,210 us"
// req/s is over the last interval (`interval_items` in `interval_s`), the
// rest are totals so far.
std::string progress_line(double elapsed_s, std::uint64_t interval_items, double interval_s,
                          const Totals& totals);

}  // namespace bench
