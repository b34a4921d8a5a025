#include "chart.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace bench {
namespace {

constexpr double kWidth = 900, kLeft = 70, kRight = 190, kPlotWidth = kWidth - kLeft - kRight;
constexpr double kTopY = 50, kTopHeight = 220, kBottomY = 330, kBottomHeight = 150;
const char* const kFastColor = "#2e8b57";
const char* const kSlowColor = "#4169e1";
const char* const kDeniedColor = "#c0c0c0";
const char* const kUsedColor = "#d2691e";
const char* const kLimitColor = "#b22222";

std::string escape_xml(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A round axis maximum at or above `v` whose quarters are round too
// (1, 1.2, 1.6, 2, 2.4, 3, 4, 5, 6, 8 times a power of ten).
double nice_ceiling(double v) {
  if (v <= 0) return 1;
  const double p = std::pow(10.0, std::floor(std::log10(v)));
  for (double m : {1.0, 1.2, 1.6, 2.0, 2.4, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0})
    if (m * p >= v * (1 - 1e-12)) return m * p;
  return 10 * p;
}

// Second labels under a panel: about ten, on round steps.
void time_ticks(std::ostringstream& svg, double y, std::size_t seconds, double slot) {
  std::size_t step = 1;
  for (std::size_t s : {1, 2, 5, 10, 15, 30, 60, 120, 300, 600})
    if (seconds / s <= 10) {
      step = s;
      break;
    }
  for (std::size_t t = step; t <= seconds; t += step)
    svg << "<text x='" << kLeft + slot * static_cast<double>(t) << "' y='" << y + 14
        << "' text-anchor='middle'>" << t << "</text>\n";
}

void axis(std::ostringstream& svg, double y, double height, double max, const std::string& label) {
  svg << "<line x1='" << kLeft << "' y1='" << y + height << "' x2='" << kLeft + kPlotWidth
      << "' y2='" << y + height << "' stroke='#444'/>\n";
  svg << "<line x1='" << kLeft << "' y1='" << y << "' x2='" << kLeft << "' y2='" << y + height
      << "' stroke='#444'/>\n";
  for (int i = 0; i <= 4; ++i) {
    const double ty = y + height - height * i / 4;
    svg << "<text x='" << kLeft - 6 << "' y='" << ty + 4 << "' text-anchor='end'>"
        << static_cast<long long>(max * i / 4) << "</text>\n";
    if (i > 0)
      svg << "<line x1='" << kLeft << "' y1='" << ty << "' x2='" << kLeft + kPlotWidth << "' y2='"
          << ty << "' stroke='#eee'/>\n";
  }
  svg << "<text x='" << kLeft << "' y='" << y - 10 << "' font-weight='bold'>" << escape_xml(label)
      << "</text>\n";
}

void legend(std::ostringstream& svg, double y, const char* color, const std::string& text,
            bool dashed = false) {
  const double x = kLeft + kPlotWidth + 15;
  svg << "<line x1='" << x << "' y1='" << y << "' x2='" << x + 18 << "' y2='" << y << "' stroke='"
      << color << "' stroke-width='8'" << (dashed ? " stroke-dasharray='4 3'" : "")
      << "/>\n<text x='" << x + 24 << "' y='" << y + 4 << "'>" << escape_xml(text) << "</text>\n";
}

}  // namespace

std::string render_chart_svg(const std::vector<TimelineRow>& rows, const ChartLabels& labels) {
  const bool hot_panel = !labels.hot_key.empty();
  const double height = hot_panel ? kBottomY + kBottomHeight + 40 : kTopY + kTopHeight + 40;
  std::ostringstream svg;
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << kWidth << "' height='" << height
      << "' font-family='sans-serif' font-size='12'>\n"
      << "<rect width='100%' height='100%' fill='white'/>\n"
      << "<text x='" << kLeft << "' y='22' font-size='15' font-weight='bold'>"
      << escape_xml(labels.title) << "</text>\n";

  const std::size_t n = std::max<std::size_t>(rows.size(), 1);
  const double slot = kPlotWidth / static_cast<double>(n);
  double top_max = 0;
  for (const TimelineRow& r : rows)
    top_max = std::max(top_max, static_cast<double>(r.granted_fast + r.granted_slow + r.denied));
  top_max = nice_ceiling(top_max);
  axis(svg, kTopY, kTopHeight, top_max, "redemptions per second, by outcome and path");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    double base = kTopY + kTopHeight;
    const double x = kLeft + slot * static_cast<double>(i) + slot * 0.1;
    const std::pair<std::uint64_t, const char*> parts[] = {{rows[i].granted_fast, kFastColor},
                                                           {rows[i].granted_slow, kSlowColor},
                                                           {rows[i].denied, kDeniedColor}};
    for (const auto& [value, color] : parts) {
      const double h = kTopHeight * static_cast<double>(value) / top_max;
      if (h <= 0) continue;
      base -= h;
      svg << "<rect x='" << x << "' y='" << base << "' width='" << slot * 0.8 << "' height='" << h
          << "' fill='" << color << "'/>\n";
    }
  }
  legend(svg, kTopY + 10, kFastColor, "granted, fast path");
  legend(svg, kTopY + 30, kSlowColor, "granted, slow path");
  legend(svg, kTopY + 50, kDeniedColor, "denied");
  time_ticks(svg, kTopY + kTopHeight, rows.size(), slot);
  svg << "<text x='" << kLeft + kPlotWidth + 10 << "' y='" << kTopY + kTopHeight + 14
      << "'>seconds</text>\n";

  if (hot_panel) {
    double bottom_max = labels.hot_limit ? static_cast<double>(*labels.hot_limit) : 0;
    for (const TimelineRow& r : rows)
      if (r.hot_used) bottom_max = std::max(bottom_max, static_cast<double>(*r.hot_used));
    bottom_max = nice_ceiling(bottom_max * 1.05);
    axis(svg, kBottomY, kBottomHeight, bottom_max, labels.hot_key + ": used against its limit");
    std::string points;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (!rows[i].hot_used) continue;
      const double x = kLeft + slot * (static_cast<double>(i) + 1);
      const double y = kBottomY + kBottomHeight -
                       kBottomHeight * static_cast<double>(*rows[i].hot_used) / bottom_max;
      points += std::to_string(x) + "," + std::to_string(y) + " ";
    }
    time_ticks(svg, kBottomY + kBottomHeight, rows.size(), slot);
    svg << "<polyline fill='none' stroke='" << kUsedColor << "' stroke-width='2.5' points='"
        << points << "'/>\n";
    legend(svg, kBottomY + 10, kUsedColor, "used");
    if (labels.hot_limit) {
      const double y = kBottomY + kBottomHeight -
                       kBottomHeight * static_cast<double>(*labels.hot_limit) / bottom_max;
      svg << "<line x1='" << kLeft << "' y1='" << y << "' x2='" << kLeft + kPlotWidth << "' y2='"
          << y << "' stroke='" << kLimitColor << "' stroke-width='1.5' stroke-dasharray='6 4'/>\n";
      legend(svg, kBottomY + 30, kLimitColor, "limit " + std::to_string(*labels.hot_limit), true);
    }
  }
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace bench
