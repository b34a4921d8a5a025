#include "applicable.hpp"

#include <algorithm>

namespace allot {

std::vector<const LimitRule*> applicable_rules(std::string_view key, std::string_view key_class,
                                               const std::vector<LimitRule>& candidates,
                                               Timestamp now) {
  std::vector<const LimitRule*> exact;
  std::vector<const LimitRule*> by_class;
  for (const LimitRule& rule : candidates) {
    if (!rule.valid.contains(now)) continue;
    if (rule.scope == key)
      exact.push_back(&rule);
    else if (rule.scope == key_class)
      by_class.push_back(&rule);
  }
  std::vector<const LimitRule*> out = exact;
  for (const LimitRule* rule : by_class) {
    const bool overridden = std::any_of(exact.begin(), exact.end(), [&](const LimitRule* e) {
      return same_window_shape(*e, *rule);
    });
    if (!overridden) out.push_back(rule);
  }
  // Deterministic order (by id) so decisions and audit details are stable.
  std::sort(out.begin(), out.end(),
            [](const LimitRule* a, const LimitRule* b) { return a->id < b->id; });
  return out;
}

}  // namespace allot
