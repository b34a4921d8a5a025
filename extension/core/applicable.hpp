// Which limits apply to a key at a given time (API.md, "Limits"): the key's
// own limits plus its class's limits, except where an exact-key limit has the
// same (per, sliding) — the exact one wins. Only limits whose valid range
// contains the time apply.
#pragma once

#include <string_view>
#include <vector>

#include "limit_rule.hpp"

namespace allot {

// `candidates` may hold limits of other scopes; they are ignored.
std::vector<const LimitRule*> applicable_rules(std::string_view key, std::string_view key_class,
                                               const std::vector<LimitRule>& candidates,
                                               Timestamp now);

}  // namespace allot
