// The decision for one redemption, given the applicable limits of each key
// and the usage they have counted: all or nothing across keys, shadow limits
// never deny, retry_after says when waiting can help.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "limit_rule.hpp"
#include "usage_ledger.hpp"

namespace allot {

struct KeyRules {
  std::string key;
  std::vector<const LimitRule*> rules;  // applicable at the decision time
};

// One (key, limit) checked against `amount`.
struct LimitCheck {
  std::string key;
  const LimitRule* rule = nullptr;
  std::int64_t used = 0;        // units counted in the check span
  bool has_room = false;        // used + amount <= max
  Timestamp counted_start = 0;  // where a grant is counted
  // How long until this limit has room for amount; nullopt when waiting
  // cannot help (total limit, or amount > max). Meaningless when has_room.
  std::optional<Duration> wait;
};

LimitCheck check_limit(const std::string& key, const LimitRule& rule, std::int64_t amount,
                       const UsageLedger& ledger, Timestamp now);

struct Outcome {
  bool granted = false;
  std::vector<std::string> denied_keys;  // keys with an enforced limit out of room
  std::optional<Duration> retry_after;   // set only when denied and waiting helps
  std::vector<LimitCheck> checks;        // every (key, limit), in key order
};

// Pure: does not change the ledger. keys_rules lists every key of the
// request (keys without limits have empty rule lists).
Outcome decide(const std::vector<KeyRules>& keys_rules, std::int64_t amount,
               const UsageLedger& ledger, Timestamp now);

// Counts a granted outcome into the ledger (every applicable limit, shadow
// ones too), so later items of a batch see it.
void count_grant(const Outcome& outcome, std::int64_t amount, UsageLedger* ledger);

}  // namespace allot
