#include "window.hpp"

#include <algorithm>

#include "error.hpp"

namespace allot {
namespace {

// Average month length, only used to guess the window index before the
// exact calendar correction in fixed_window_index.
constexpr double kMicrosPerAverageMonth = 30.436875 * kMicrosPerDay;

// now - anchor. Two timestamps PostgreSQL accepts (4714 BC .. 294276 AD)
// can be further apart than 64 bits of µs hold: no window is placed then.
Duration since_anchor(Timestamp now, Timestamp anchor) {
  Duration d;
  if (__builtin_sub_overflow(now, anchor, &d))
    throw BadInput(ErrorCode::kOutOfRange, "timestamp out of range");
  return d;
}

std::int64_t fixed_window_index(const LimitRule& rule, Timestamp now) {
  const Interval& per = *rule.per;
  const Timestamp anchor = window_anchor(rule);
  if (!per.has_months()) return floor_div(since_anchor(now, anchor), per.fixed_micros());
  const double approx_len = per.months * kMicrosPerAverageMonth + per.fixed_micros();
  auto k = static_cast<std::int64_t>((static_cast<double>(now) - anchor) / approx_len);
  while (add_scaled(anchor, per, k) > now) --k;
  while (add_scaled(anchor, per, k + 1) <= now) ++k;
  return k;
}

}  // namespace

Timestamp window_anchor(const LimitRule& rule) {
  return rule.valid.lower_finite() ? rule.valid.lower : 0;
}

Duration sliding_bucket_length(const Interval& per) {
  return std::max<Duration>(1, per.fixed_micros() / kSlidingBuckets);
}

Timestamp fixed_window_start(const LimitRule& rule, Timestamp now) {
  return add_scaled(window_anchor(rule), *rule.per, fixed_window_index(rule, now));
}

Timestamp next_fixed_window_start(const LimitRule& rule, Timestamp now) {
  return add_scaled(window_anchor(rule), *rule.per, fixed_window_index(rule, now) + 1);
}

Placement place(const LimitRule& rule, Timestamp now) {
  // A total has one counter row, at the start of `valid` (-infinity when
  // open): that is what allot.usage shows as its window_start.
  if (!rule.per) return {rule.valid.lower, {rule.valid.lower, rule.valid.lower + 1}};
  const Timestamp anchor = window_anchor(rule);
  if (!rule.sliding) {
    const Timestamp start = fixed_window_start(rule, now);
    return {start, {start, start + 1}};
  }
  const Duration bucket = sliding_bucket_length(*rule.per);
  // now minus its offset into its bucket (anchor + floor(since / bucket) *
  // bucket, without a product that can overflow).
  const Duration into = since_anchor(now, anchor) % bucket;
  const Timestamp start = now - (into < 0 ? into + bucket : into);
  // A bucket [s, s+bucket) overlaps (now-per, now] iff s > now - per - bucket.
  const Timestamp first = now - rule.per->fixed_micros() - bucket + 1;
  return {start, {first, kPlusInfinity}};
}

CurrentWindow current_window(const LimitRule& rule, Timestamp now) {
  const Placement p = place(rule, now);
  if (rule.per && rule.sliding) return {now - rule.per->fixed_micros(), p.check_span};
  return {p.counted_start, p.check_span};
}

}  // namespace allot
