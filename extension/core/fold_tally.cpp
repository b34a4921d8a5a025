#include "fold_tally.hpp"

#include <algorithm>
#include <functional>
#include <tuple>

#include "error.hpp"

namespace allot {

std::size_t FoldTally::RowIdHash::operator()(const RowId& r) const {
  std::size_t h = std::hash<std::string>{}(r.key);
  // boost::hash_combine's mixing: cheap, and enough to spread the few
  // limits and windows of one key.
  h ^= std::hash<std::int64_t>{}(r.limit_id) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h ^= std::hash<std::int64_t>{}(r.window_start) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h;
}

void FoldTally::add(std::string_view key, std::int64_t limit_id, Timestamp window_start,
                    std::int64_t units) {
  std::int64_t& sum = sums_[RowId{std::string(key), limit_id, window_start}];
  if (__builtin_add_overflow(sum, units, &sum))
    throw BadInput(ErrorCode::kNumericOutOfRange,
                   "units folded into counter of key \"" + std::string(key) + "\", limit " +
                       std::to_string(limit_id) + " are out of range for bigint");
}

std::vector<CounterDelta> FoldTally::take_sorted() {
  std::vector<CounterDelta> rows;
  rows.reserve(sums_.size());
  while (!sums_.empty()) {  // the keys are moved out, not copied
    auto node = sums_.extract(sums_.begin());
    RowId& id = node.key();
    rows.push_back(CounterDelta{std::move(id.key), id.limit_id, id.window_start, node.mapped()});
  }
  // std::string's operator< compares bytes as unsigned char: COLLATE "C".
  std::sort(rows.begin(), rows.end(), [](const CounterDelta& a, const CounterDelta& b) {
    return std::tie(a.key, a.limit_id, a.window_start) <
           std::tie(b.key, b.limit_id, b.window_start);
  });
  return rows;
}

}  // namespace allot
