#include "progress.hpp"

#include <cstdio>

#include "report.hpp"

namespace bench {

std::string progress_line(double elapsed_s, std::uint64_t interval_items, double interval_s,
                          const Totals& t) {
  const double rate = interval_s > 0 ? interval_items / interval_s : 0.0;
  char head[64];
  std::snprintf(head, sizeof head, "%6.1fs %9s req/s", elapsed_s,
                group_digits(static_cast<std::uint64_t>(rate + 0.5)).c_str());
  return std::string(head) + "  granted " + group_digits(t.counters.granted()) + "  denied " +
         group_digits(t.counters.denied()) + "  errors " + group_digits(t.counters.errors) +
         "  p99 " + group_digits(t.latency.percentile(0.99)) + " us";
}

}  // namespace bench
