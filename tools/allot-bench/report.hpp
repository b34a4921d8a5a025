// The final report: a human-readable table on stdout, the same facts as JSON
// for scripts (--json), and the exit status both rely on.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "histogram.hpp"
#include "options.hpp"
#include "server_facts.hpp"
#include "stats.hpp"

namespace bench {

struct RunResult {
  Options options;
  std::uint64_t seed = 0;
  double elapsed_s = 0;
  Counters counters;
  Histogram latency;                    // per call, microseconds
  std::vector<std::string> limits_set;  // --setup
  // allot.stats promotions + demotions during the run; nullopt without stats.
  std::optional<std::int64_t> path_flips;
  // allot.events written during the run, to cross-check the client's count.
  std::optional<std::int64_t> grant_events, deny_events;
  std::optional<std::int64_t> hot_used, hot_limit;  // flash / hot only
  Checks checks;
};

// 0: sound. 1: errors, enforced violations, verify() rows, the hot voucher
// over its limit, or a check that could not run (unknown is not sound).
int exit_status(const RunResult& r);
// Why exit_status is not 0, one reason per entry (empty when it is 0).
std::vector<std::string> failure_reasons(const RunResult& r);

void print_report(std::ostream& out, const RunResult& r);
nlohmann::json report_json(const RunResult& r);

// 1234567 -> "1,234,567"
std::string group_digits(std::uint64_t n);

}  // namespace bench
