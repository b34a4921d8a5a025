// Fuzzes limit shapes and window placement (extension/core/limit_rule.hpp,
// window.hpp, time.hpp): validate_limit_shape and parse_mode on what
// set_limit receives, then place / current_window / fixed_window_start /
// next_fixed_window_start for every accepted shape, any valid range and any
// decision time PostgreSQL can represent.
//
// Input layout (little-endian; missing bytes read as 0):
//   byte 0    flags: 1 per set, 2 sliding, 4 finite lower bound, 8 finite
//             upper bound, 16 lower inclusive, 32 upper inclusive, 64 raw
//             per (else folded into the accepted lengths), 128 now near
//             a window boundary (else anywhere)
//   int32 months, int32 days, int64 micros      per
//   int64 max
//   int64 lower, int64 upper                     folded into PostgreSQL's
//                                                timestamptz range
//   int64 now                                    folded into that range too,
//                                                or with flag 128: bits 8..39
//                                                an int32 j, bits 0..7 an int8
//                                                d, now = (start of window j
//                                                from the anchor) + d µs
//   the rest                                     a mode text
//
// Properties checked:
//  - validate_limit_shape accepts exactly the shapes API.md allows (max > 0;
//    per positive and at most 1000 years; sliding needs per and no months)
//    and rejects the others with BadInput(22023); parse_mode accepts exactly
//    "enforce" and "shadow";
//  - a total counts into one row at lower(valid);
//  - a fixed window holds now: start <= now < next start, the windows tile
//    (the window before ends where this one starts), a fixed-length window
//    is `per` long and aligned to the anchor, a calendar one is as long as
//    its months (28..31 days each) plus its fixed part;
//  - a sliding window's bucket holds now, is aligned to the anchor, and the
//    check span counts every bucket that overlaps (now - per, now], reaching
//    back at most one bucket length before now - per;
//  - nothing but BadInput(22008, out of range) escapes, and only where the
//    window cannot be placed in 64 bits of µs (now near the end of the
//    timestamp range, or now - anchor beyond an int64); never undefined
//    behaviour (UBSan).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "error.hpp"
#include "fuzz_support.hpp"
#include "limit_rule.hpp"
#include "time.hpp"
#include "window.hpp"

using namespace allot;
using namespace allot::fuzz;

namespace {

// PostgreSQL's timestamptz range: MIN_TIMESTAMP (4714-11-24 BC) up to, not
// including, END_TIMESTAMP (294277-01-01), in µs since 2000-01-01.
constexpr Timestamp kMinTimestamp = -211813488000000000;
constexpr Timestamp kEndTimestamp = 9223371331200000000;
// Limits on per (limit_rule.cpp says "1000 years").
constexpr std::int32_t kMaxMonths = 12 * 1000;
constexpr std::int32_t kMaxDays = 366 * 1000;
constexpr std::int64_t kMaxMicros = std::int64_t{366} * 1000 * kMicrosPerDay;

using i128 = __int128;

class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  template <typename T>
  T take() {
    T v{};
    unsigned char buf[sizeof(T)] = {};
    const std::size_t n = pos_ < size_ ? std::min(sizeof(T), size_ - pos_) : 0;
    if (n) std::memcpy(buf, data_ + pos_, n);
    pos_ += sizeof(T);
    std::memcpy(&v, buf, sizeof(T));
    return v;
  }
  std::string rest() const {
    return pos_ < size_ ? std::string(reinterpret_cast<const char*>(data_ + pos_), size_ - pos_)
                        : std::string();
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

Timestamp fold_timestamp(std::int64_t raw) {
  const auto span = static_cast<std::uint64_t>(kEndTimestamp) -
                    static_cast<std::uint64_t>(static_cast<i128>(kMinTimestamp));
  return static_cast<Timestamp>(static_cast<i128>(kMinTimestamp) +
                                static_cast<i128>(static_cast<std::uint64_t>(raw) % span));
}

Timestamp clamp_timestamp(i128 t) {
  if (t < kMinTimestamp) return kMinTimestamp;
  if (t >= kEndTimestamp) return kEndTimestamp - 1;
  return static_cast<Timestamp>(t);
}

// Edges are where off-by-one errors live: now = (start of window j counted
// from the anchor) + d µs, clamped into the timestamp range.
Timestamp near_boundary(const LimitRule& rule, std::int64_t raw) {
  const auto j = static_cast<std::int32_t>(static_cast<std::uint64_t>(raw) >> 8);
  const auto d = static_cast<std::int8_t>(raw & 0xFF);
  const Timestamp anchor = rule.valid.lower_finite() ? rule.valid.lower : 0;
  i128 boundary = anchor;
  if (rule.per && !rule.per->has_months()) {
    boundary += static_cast<i128>(j) *
                (static_cast<i128>(rule.per->days) * kMicrosPerDay + rule.per->micros);
  } else if (rule.per) {
    try {
      boundary = add_scaled(anchor, *rule.per, j);  // tested by tests/unit/time_test.cpp
    } catch (const BadInput&) {
      boundary = j < 0 ? kMinTimestamp : kEndTimestamp;
    }
  }
  return clamp_timestamp(boundary + d);
}

std::int64_t fold(std::int64_t raw, std::int64_t max_inclusive) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(raw) %
                                   (static_cast<std::uint64_t>(max_inclusive) + 1));
}

bool ref_shape_ok(std::int64_t max, const std::optional<Interval>& per, bool sliding) {
  if (max <= 0) return false;
  if (!per) return !sliding;
  if (per->months < 0 || per->days < 0 || per->micros < 0) return false;
  if (per->months == 0 && per->days == 0 && per->micros == 0) return false;
  if (per->months > kMaxMonths || per->days > kMaxDays || per->micros > kMaxMicros) return false;
  if (static_cast<i128>(per->days) * kMicrosPerDay + per->micros > kMaxMicros) return false;
  return !(sliding && per->months != 0);
}

i128 floor_div128(i128 a, i128 b) {
  i128 q = a / b;
  if (a % b != 0 && ((a < 0) != (b < 0))) --q;
  return q;
}

std::string show(Timestamp t) { return std::to_string(t); }

std::string describe(const LimitRule& r, Timestamp now) {
  std::string out = "per ";
  out += r.per ? std::to_string(r.per->months) + "mon " + std::to_string(r.per->days) + "d " +
                     std::to_string(r.per->micros) + "us"
               : std::string("none");
  out += r.sliding ? " sliding" : " fixed";
  out += " valid " + std::string(r.valid.lower_inclusive ? "[" : "(") + show(r.valid.lower) + "," +
         show(r.valid.upper) + (r.valid.upper_inclusive ? "]" : ")");
  return out + " now " + show(now);
}

void check_total(const LimitRule& rule, Timestamp now) {
  const Placement p = place(rule, now);
  const std::string d = describe(rule, now);
  FUZZ_CHECK(p.counted_start == rule.valid.lower, d);
  FUZZ_CHECK(p.check_span.from == rule.valid.lower && p.check_span.to == rule.valid.lower + 1, d);
  const CurrentWindow w = current_window(rule, now);
  FUZZ_CHECK(w.window_start == rule.valid.lower && w.rows.from == p.check_span.from &&
                 w.rows.to == p.check_span.to,
             d);
}

void check_fixed(const LimitRule& rule, Timestamp now) {
  const std::string d = describe(rule, now);
  const Interval& per = *rule.per;
  const Timestamp anchor = window_anchor(rule);
  const Timestamp start = fixed_window_start(rule, now);
  const Timestamp next = next_fixed_window_start(rule, now);
  FUZZ_CHECK(start <= now && now < next,
             d + ": window [" + show(start) + ", " + show(next) + ") does not hold now");
  const i128 fixed = static_cast<i128>(per.days) * kMicrosPerDay + per.micros;
  if (!per.has_months()) {
    FUZZ_CHECK(static_cast<i128>(next) - start == fixed, d);
    FUZZ_CHECK((static_cast<i128>(start) - anchor) % fixed == 0, d + ": not aligned to the anchor");
  } else {
    const i128 length = static_cast<i128>(next) - start;
    FUZZ_CHECK(length >= per.months * 28 * static_cast<i128>(kMicrosPerDay) + fixed &&
                   length <= per.months * 31 * static_cast<i128>(kMicrosPerDay) + fixed,
               d + ": window length " + std::to_string(static_cast<std::int64_t>(length)));
  }
  if (start > kMinTimestamp) {  // the window before ends where this one starts
    FUZZ_CHECK(next_fixed_window_start(rule, start - 1) == start, d);
    FUZZ_CHECK(fixed_window_start(rule, start - 1) < start, d);
  }
  FUZZ_CHECK(fixed_window_start(rule, next - 1) == start, d);  // same window to its end

  const Placement p = place(rule, now);
  FUZZ_CHECK(p.counted_start == start && p.check_span.from == start && p.check_span.to == start + 1,
             d);
  const CurrentWindow w = current_window(rule, now);
  FUZZ_CHECK(w.window_start == start && w.rows.from == start && w.rows.to == start + 1, d);
}

void check_sliding(const LimitRule& rule, Timestamp now) {
  const std::string d = describe(rule, now);
  const i128 per = static_cast<i128>(rule.per->days) * kMicrosPerDay + rule.per->micros;
  const Timestamp anchor = window_anchor(rule);
  const Duration bucket = sliding_bucket_length(*rule.per);
  FUZZ_CHECK(bucket >= 1 && bucket == std::max<i128>(1, per / kSlidingBuckets), d);
  const Placement p = place(rule, now);
  FUZZ_CHECK(p.counted_start <= now && now < static_cast<i128>(p.counted_start) + bucket,
             d + ": bucket at " + show(p.counted_start) + " does not hold now");
  FUZZ_CHECK((static_cast<i128>(p.counted_start) - anchor) % bucket == 0,
             d + ": bucket not aligned to the anchor");
  // Every bucket overlapping (now - per, now] is counted (the oldest holds
  // now - per + 1), and no more than one bucket's length before it.
  const i128 oldest_instant = static_cast<i128>(now) - per + 1;
  const i128 oldest_bucket = anchor + floor_div128(oldest_instant - anchor, bucket) * bucket;
  FUZZ_CHECK(p.check_span.from <= oldest_bucket && p.check_span.from >= oldest_instant - bucket,
             d + ": check span from " + show(p.check_span.from));
  FUZZ_CHECK(p.check_span.to == kPlusInfinity, d);
  const CurrentWindow w = current_window(rule, now);
  FUZZ_CHECK(w.window_start == static_cast<i128>(now) - per, d);
  FUZZ_CHECK(w.rows.from == p.check_span.from && w.rows.to == p.check_span.to, d);
}

// Where a window cannot be placed in 64 bits of µs, BadInput(22008) is the
// honest answer: when now is within two window lengths of the end of the
// timestamp range (the next window ends past it), or so far from the anchor
// (4714 BC vs 294276 AD) that now - anchor, give or take two windows, does
// not fit in an int64.
bool out_of_range_allowed(const LimitRule& rule, Timestamp now) {
  const Interval& per = *rule.per;
  const i128 longest = per.months * 31 * static_cast<i128>(kMicrosPerDay) +
                       static_cast<i128>(per.days) * kMicrosPerDay + per.micros;
  const i128 slack = 2 * longest + kMicrosPerDay;
  if (static_cast<i128>(now) + slack >= kEndTimestamp) return true;
  i128 since = static_cast<i128>(now) - window_anchor(rule);
  if (since < 0) since = -since;
  return since + slack > INT64_MAX;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader in(data, size);
  const auto flags = in.take<std::uint8_t>();
  const auto months = in.take<std::int32_t>();
  const auto days = in.take<std::int32_t>();
  const auto micros = in.take<std::int64_t>();
  const auto max = in.take<std::int64_t>();
  const auto raw_lower = in.take<std::int64_t>();
  const auto raw_upper = in.take<std::int64_t>();
  const auto raw_now = in.take<std::int64_t>();
  const std::string mode_text = in.rest();
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // parse_mode
  {
    ErrorCode code{};
    std::string message;
    Mode mode{};
    const bool ok =
        returns_or_bad_input([&] { mode = parse_mode(mode_text); }, &code, &message, mode_text);
    FUZZ_CHECK(ok == (mode_text == "enforce" || mode_text == "shadow"), show_bytes(mode_text));
    if (ok)
      FUZZ_CHECK(mode_name(mode) == mode_text, show_bytes(mode_text));
    else
      FUZZ_CHECK(code == ErrorCode::kInvalidParameter && !message.empty() &&
                     message.size() <= kMaxMessageBytes,
                 message);
  }

  LimitRule rule;
  rule.id = 1;
  rule.max = max;
  rule.sliding = flags & 2;
  if (flags & 1) {
    Interval per;
    if (flags & 64) {
      per = {months, days, micros};
    } else {
      per.months = static_cast<std::int32_t>(fold(months, kMaxMonths));
      per.days = static_cast<std::int32_t>(fold(days, kMaxDays));
      per.micros = fold(micros, kMaxMicros);
    }
    rule.per = per;
  }

  ErrorCode code{};
  std::string message;
  const bool shape_ok = returns_or_bad_input(
      [&] { validate_limit_shape(rule.max, rule.per, rule.sliding); }, &code, &message, input);
  FUZZ_CHECK(shape_ok == ref_shape_ok(rule.max, rule.per, rule.sliding),
             describe(rule, 0) + " max " + std::to_string(rule.max) + ": " +
                 (shape_ok ? "accepted" : message));
  if (!shape_ok) {
    FUZZ_CHECK(code == ErrorCode::kInvalidParameter && !message.empty(), message);
    return 0;
  }

  // A non-empty tstzrange, as datum_to_valid_range hands it over.
  if (flags & 4) {
    rule.valid.lower = fold_timestamp(raw_lower);
    rule.valid.lower_inclusive = flags & 16;
  }
  if (flags & 8) {
    rule.valid.upper = fold_timestamp(raw_upper);
    rule.valid.upper_inclusive = flags & 32;
  }
  if ((flags & 4) && (flags & 8)) {
    if (rule.valid.lower > rule.valid.upper) std::swap(rule.valid.lower, rule.valid.upper);
    if (rule.valid.lower == rule.valid.upper)
      rule.valid.lower_inclusive = rule.valid.upper_inclusive = true;
  }
  // API.md: windows align to lower(valid) when finite, else 2000-01-01 UTC.
  FUZZ_CHECK(window_anchor(rule) == (rule.valid.lower_finite() ? rule.valid.lower : 0),
             describe(rule, 0));
  const Timestamp now = (flags & 128) ? near_boundary(rule, raw_now) : fold_timestamp(raw_now);

  try {
    if (!rule.per)
      check_total(rule, now);
    else if (!rule.sliding)
      check_fixed(rule, now);
    else
      check_sliding(rule, now);
  } catch (const BadInput& e) {
    FUZZ_CHECK(e.code() == ErrorCode::kOutOfRange, describe(rule, now) + ": " + e.what());
    FUZZ_CHECK(rule.per && out_of_range_allowed(rule, now),
               describe(rule, now) + ": out of range, yet far from the limits of int64 µs");
  } catch (const std::exception& e) {
    fail(__FILE__, __LINE__, "only BadInput escapes the core",
         describe(rule, now) + ": " + e.what());
  }
  return 0;
}
