#include "usage_ledger.hpp"

namespace allot {

std::int64_t UsageLedger::used(const std::string& key, std::int64_t limit_id, Timestamp from,
                               Timestamp to) const {
  const Rows& r = rows(key, limit_id);
  std::int64_t sum = 0;
  for (auto it = r.lower_bound(from); it != r.end() && it->first < to; ++it) sum += it->second;
  return sum;
}

const UsageLedger::Rows& UsageLedger::rows(const std::string& key, std::int64_t limit_id) const {
  static const Rows kEmpty;
  auto it = rows_.find({key, limit_id});
  return it == rows_.end() ? kEmpty : it->second;
}

}  // namespace allot
