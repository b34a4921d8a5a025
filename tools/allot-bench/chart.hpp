// --chart: an SVG picture of a run, from its timeline. Top: redemptions per
// second, stacked by outcome (granted on the fast path, on the slow path,
// denied). Bottom: the hot voucher's usage against its limit. Pure (no I/O),
// so it is unit-tested; any browser shows the file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "timeline.hpp"

namespace bench {

struct ChartLabels {
  std::string title;    // e.g. "flash sale: 16 threads, 30 s"
  std::string hot_key;  // empty: no bottom panel
  std::optional<std::int64_t> hot_limit;
};

std::string render_chart_svg(const std::vector<TimelineRow>& rows, const ChartLabels& labels);

}  // namespace bench
