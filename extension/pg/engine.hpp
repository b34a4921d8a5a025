// The row-locked (slow, exact) redemption engine. One code path serves
// allot.redeem (a batch of one) and allot.redeem_many:
//
//   1. load the limits of every key and key class, pick the applicable ones;
//   2. lock the entity rows of every limited key, in one global (bytewise)
//      order, creating missing rows (a new key takes no table lock);
//   3. look up already-granted txns (idempotency) — after the locks, so a
//      grant of the same txn that we waited for is seen, not just its usage;
//   4. load the counter rows the checks need;
//   5. decide the items in order in memory (core/decide), each grant
//      counted so the next item sees it;
//   6. write: txns, counters, events — one statement each for the batch.
//
// Everything happens in the caller's transaction, so it commits or rolls
// back with it. No row is written for a denial except its audit event.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "../core/batch_json.hpp"
#include "../core/limit_rule.hpp"
#include "../core/time.hpp"

namespace allot::pg {

struct ItemResult {
  bool granted = false;
  bool replayed = false;
  std::string path;
  std::vector<std::string> denied_keys;
  std::optional<Duration> retry_after;
  std::optional<std::string> error;  // a malformed or conflicting item
};

// With raise_conflicts, a txn reused with other keys or amount raises
// SQLSTATE 23505 (allot.redeem); without it, the item gets `error`
// (allot.redeem_many).
// In a batch of more than one, items whose txn was granted before (and is
// still in allot.events) are answered from the log before anything is
// decided (a replay, or an error when the keys or amount differ): decided
// afresh, such an item would hold units the items after it then miss.
std::vector<ItemResult> redeem_batch(const std::vector<BatchItem>& items, bool raise_conflicts);

// allot.can_redeem: one row per (key, applicable limit); reads only.
struct KeyCheckRow {
  std::string key;
  std::int64_t limit_id;
  bool allowed;
  std::int64_t remaining;
  std::optional<Duration> retry_after;
};
std::vector<KeyCheckRow> check_keys(const std::vector<std::string>& keys, std::int64_t amount);

// allot.reverse: true when txn was granted and is reversed now.
bool reverse_txn(const Uuid& txn, const std::optional<std::string>& reason);

}  // namespace allot::pg
