#include "timeline.hpp"

namespace bench {

void write_timeline_csv(std::ostream& out, const std::vector<TimelineRow>& rows) {
  out << "second,granted_fast,granted_slow,denied,hot_used\n";
  for (const TimelineRow& r : rows) {
    out << r.second << ',' << r.granted_fast << ',' << r.granted_slow << ',' << r.denied << ',';
    if (r.hot_used) out << *r.hot_used;
    out << '\n';
  }
}

}  // namespace bench
