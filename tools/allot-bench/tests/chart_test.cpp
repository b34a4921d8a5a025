#include "chart.hpp"

#include <gtest/gtest.h>

#include <string>

namespace bench {
namespace {

int count(const std::string& s, const std::string& what) {
  int n = 0;
  for (std::size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

std::vector<TimelineRow> three_seconds() {
  std::vector<TimelineRow> rows(3);
  for (int i = 0; i < 3; ++i) {
    rows[i].second = i + 1;
    rows[i].granted_slow = 100;
    rows[i].denied = 50 * static_cast<std::uint64_t>(i);
    rows[i].hot_used = 1000 * (i + 1);
  }
  return rows;
}

TEST(Chart, IsAStandaloneSvgDocument) {
  const std::string svg = render_chart_svg(three_seconds(), {"flash sale", "", std::nullopt});
  EXPECT_EQ(svg.rfind("<svg xmlns='http://www.w3.org/2000/svg'", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
}

TEST(Chart, DrawsOneBarPerNonZeroOutcomePerSecond) {
  // 3 slow-path bars + 2 denied bars (second 1 has no denials); no fast bars.
  const std::string svg = render_chart_svg(three_seconds(), {"t", "", std::nullopt});
  EXPECT_EQ(count(svg, "<rect x="), 5);
}

TEST(Chart, ShowsTheHotVoucherAgainstItsLimitOnlyWhenAsked) {
  const std::string without = render_chart_svg(three_seconds(), {"t", "", std::nullopt});
  EXPECT_EQ(count(without, "<polyline"), 0);
  const std::string with = render_chart_svg(three_seconds(), {"t", "voucher:HOT", 3000});
  EXPECT_EQ(count(with, "<polyline"), 1);
  EXPECT_NE(with.find("limit 3000"), std::string::npos);
  EXPECT_NE(with.find("voucher:HOT: used against its limit"), std::string::npos);
}

TEST(Chart, EscapesTextIntoValidXml) {
  const std::string svg = render_chart_svg({}, {"a < b & \"c\"", "", std::nullopt});
  EXPECT_NE(svg.find("a &lt; b &amp; &quot;c&quot;"), std::string::npos);
  EXPECT_EQ(svg.find("a < b"), std::string::npos);
}

}  // namespace
}  // namespace bench
