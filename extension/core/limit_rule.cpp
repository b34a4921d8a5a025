#include "limit_rule.hpp"

#include "error.hpp"
#include "key.hpp"

namespace allot {
namespace {
// Far beyond any sensible window, and small enough that no arithmetic on a
// window length can overflow 64 bits.
constexpr std::int32_t kMaxPerMonths = 12 * 1000;
constexpr std::int32_t kMaxPerDays = 366 * 1000;
constexpr std::int64_t kMaxPerMicros = std::int64_t{366} * 1000 * kMicrosPerDay;
}  // namespace

void validate_limit_shape(std::int64_t max, const std::optional<Interval>& per, bool sliding) {
  if (max <= 0) throw BadInput("max must be greater than 0, got " + std::to_string(max));
  if (!per) {
    if (sliding) throw BadInput("a sliding limit needs per (the window length)");
    return;
  }
  if (!is_positive(*per))
    throw BadInput("per must be a positive interval (no negative parts, not zero)");
  if (per->months > kMaxPerMonths || per->days > kMaxPerDays || per->micros > kMaxPerMicros ||
      per->fixed_micros() > kMaxPerMicros)
    throw BadInput("per is longer than 1000 years");
  if (sliding && per->has_months())
    throw BadInput("a sliding window must have a fixed length: use days or hours, not months");
}

Mode parse_mode(const std::string& text) {
  if (text == "enforce") return Mode::kEnforce;
  if (text == "shadow") return Mode::kShadow;
  throw BadInput("mode must be 'enforce' or 'shadow', got " + quote_for_message(text));
}

const char* mode_name(Mode mode) { return mode == Mode::kEnforce ? "enforce" : "shadow"; }

}  // namespace allot
