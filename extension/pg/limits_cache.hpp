// A backend's cache of allot.limits, by scope: a redemption reads the
// limits of its keys and their classes, and they change rarely. Reading
// them from the table on every call was a tenth of a redemption's cost.
//
// Only when preloaded (the shared generation counter lives in shared
// memory); otherwise every call reads the table. The cache is dropped when
//   * a transaction that changed allot.limits commits anywhere (a statement
//     trigger on allot.limits bumps the shared generation at commit);
//   * this transaction changes allot.limits (it must see its own changes,
//     and nothing it read may outlive a rollback);
//   * allot.limits is another table than before (DROP/CREATE EXTENSION).
// A backend that reads the generation before its snapshot can only ever
// cache rows at least as new as that generation.
#pragma once

#include <string>
#include <vector>

#include "../core/limit_rule.hpp"

namespace allot::pg {

// Every limit of these scopes, valid at any time (applicable_rules keeps
// those valid at the decision time).
std::vector<LimitRule> limits_of(const std::vector<std::string>& scopes);

// Registers the transaction callback (from _PG_init).
void register_limits_cache_callbacks();

}  // namespace allot::pg
