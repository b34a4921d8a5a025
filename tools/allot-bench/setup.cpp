#include "setup.hpp"

#include "scenario.hpp"

namespace bench {

std::vector<std::string> apply_limits(allot::Client& admin, Monitor& monitor,
                                      const Options& options) {
  const std::vector<LimitSpec> specs = scenario_limits(options);
  if (options.reset)
    for (const LimitSpec& s : specs) monitor.drop_limit(s);

  std::vector<std::string> lines;
  for (const LimitSpec& s : specs) {
    allot::LimitOptions lo;
    lo.sliding = s.sliding;
    // The interval-text overload keeps "1 day" a calendar day, as a shop
    // would write it; an empty per is a total.
    const std::int64_t id = s.per.empty() ? admin.set_limit(s.scope, s.max)
                                          : admin.set_limit(s.scope, s.max, s.per, lo);
    std::string line = s.scope + " " + std::to_string(s.max) + " ";
    line += s.per.empty() ? "total" : "per " + s.per + (s.sliding ? " sliding" : "");
    lines.push_back(line + " (id " + std::to_string(id) + ")");
  }
  return lines;
}

}  // namespace bench
