#include "decide.hpp"

#include <algorithm>
#include <limits>

#include "error.hpp"
#include "key.hpp"

#include "window.hpp"

namespace allot {
namespace {

// Earliest wait after which a sliding limit has room: buckets leave the
// check span oldest first; bucket s stops counting at s + bucket + per.
std::optional<Duration> sliding_wait(const LimitRule& rule, const UsageLedger::Rows& rows,
                                     const StartSpan& span, std::int64_t used, std::int64_t amount,
                                     Timestamp now) {
  const Duration bucket = sliding_bucket_length(*rule.per);
  std::int64_t remaining = used;
  for (auto it = rows.lower_bound(span.from); it != rows.end() && it->first < span.to; ++it) {
    remaining -= it->second;
    if (remaining <= rule.max - amount)  // amount <= max here: no overflow
      return std::max<Duration>(1, it->first + bucket + rule.per->fixed_micros() - now);
  }
  return std::nullopt;  // not reachable while amount <= max
}

std::optional<Duration> wait_for_room(const LimitRule& rule, const UsageLedger& ledger,
                                      const std::string& key, const StartSpan& span,
                                      std::int64_t used, std::int64_t amount, Timestamp now) {
  if (amount > rule.max || !rule.per) return std::nullopt;
  std::optional<Duration> wait;
  if (rule.sliding)
    wait = sliding_wait(rule, ledger.rows(key, rule.id), span, used, amount, now);
  else
    wait = next_fixed_window_start(rule, now) - now;
  // The limit stops applying when its valid range ends (just after an
  // inclusive upper bound).
  if (wait && rule.valid.upper != kPlusInfinity) {
    const Timestamp ends = rule.valid.upper + (rule.valid.upper_inclusive ? 1 : 0);
    wait = std::min<Duration>(*wait, std::max<Duration>(1, ends - now));
  }
  return wait;
}

}  // namespace

LimitCheck check_limit(const std::string& key, const LimitRule& rule, std::int64_t amount,
                       const UsageLedger& ledger, Timestamp now) {
  const Placement p = place(rule, now);
  LimitCheck c;
  c.key = key;
  c.rule = &rule;
  c.used = ledger.used(key, rule.id, p.check_span.from, p.check_span.to);
  // An enforced limit with room cannot overflow (used + amount <= max); a
  // shadow limit counts past max, and could overflow its 64-bit usage.
  if (rule.mode == Mode::kShadow && c.used > 0 &&
      amount > std::numeric_limits<std::int64_t>::max() - c.used)
    throw BadInput(ErrorCode::kNumericOutOfRange,
                   "amount " + std::to_string(amount) + " would overflow the usage counted for " +
                       quote_for_message(key) + " (limit " + std::to_string(rule.id) + ")");
  // Written to avoid overflow: amount and max are both positive.
  c.has_room = amount <= rule.max && c.used <= rule.max - amount;
  c.counted_start = p.counted_start;
  if (!c.has_room) c.wait = wait_for_room(rule, ledger, key, p.check_span, c.used, amount, now);
  return c;
}

Outcome decide(const std::vector<KeyRules>& keys_rules, std::int64_t amount,
               const UsageLedger& ledger, Timestamp now) {
  Outcome out;
  bool waiting_helps = true;
  Duration longest_wait = 0;
  for (const KeyRules& kr : keys_rules) {
    bool key_denied = false;
    for (const LimitRule* rule : kr.rules) {
      LimitCheck c = check_limit(kr.key, *rule, amount, ledger, now);
      if (!c.has_room && rule->mode == Mode::kEnforce) {
        key_denied = true;
        if (c.wait)
          longest_wait = std::max(longest_wait, *c.wait);
        else
          waiting_helps = false;
      }
      out.checks.push_back(std::move(c));
    }
    if (key_denied) out.denied_keys.push_back(kr.key);
  }
  out.granted = out.denied_keys.empty();
  if (!out.granted && waiting_helps) out.retry_after = longest_wait;
  return out;
}

void count_grant(const Outcome& outcome, std::int64_t amount, UsageLedger* ledger) {
  for (const LimitCheck& c : outcome.checks)
    ledger->add(c.key, c.rule->id, c.counted_start, amount);
}

}  // namespace allot
