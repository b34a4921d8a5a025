// Every table access of the redemption engine, as prepared statements over
// SPI. The engine above speaks in core types; this file speaks SQL.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "../core/limit_rule.hpp"
#include "../core/request.hpp"
#include "../core/usage_ledger.hpp"
#include "../core/window.hpp"

namespace allot::pg {

// A granted txn as stored in allot.txns.
struct GrantedTxn {
  std::vector<std::string> sorted_keys;
  std::int64_t amount = 0;
  std::string path;
  std::string counted_json;  // [[key, limit_id, window_start], ...]
  bool reversed = false;
};

std::map<Uuid, GrantedTxn> load_granted(const std::vector<Uuid>& txns);

// Limits whose scope is one of `scopes` and whose valid range contains `at`.
std::vector<LimitRule> load_limits(const std::vector<std::string>& scopes, Timestamp at);

// Creates missing entity rows and locks all of them, in the order given
// (callers pass keys sorted bytewise: one global lock order, no deadlocks).
void lock_entities(const std::vector<std::string>& sorted_keys, Timestamp at);

// Loads the counter rows of each (key, limit) inside its check span.
struct CounterSpan {
  std::string key;
  std::int64_t limit_id;
  StartSpan span;
};
UsageLedger load_counters(const std::vector<CounterSpan>& spans);

// Adds `units` to counter rows, creating them when missing. Rows must be
// distinct (the caller sums duplicates first).
struct CounterDelta {
  std::string key;
  std::int64_t limit_id;
  Timestamp window_start;
  std::int64_t units;
};
void add_counters(const std::vector<CounterDelta>& deltas);

// Subtracts units from existing counter rows (a reversal). Rows that no
// longer exist (their limit was dropped) are left alone.
void subtract_counters(const std::vector<CounterDelta>& deltas);

// Inserts granted txns; returns those that were inserted (a txn missing from
// the result was granted concurrently by another session that committed).
struct NewTxn {
  Uuid txn;
  std::vector<std::string> sorted_keys;
  std::int64_t amount;
  std::string path;
  Timestamp at;
  std::string counted_json;
};
std::set<Uuid> insert_txns(const std::vector<NewTxn>& txns);

struct NewEvent {
  Uuid txn;
  Timestamp at;
  const char* kind;  // "grant" | "deny" | "reverse"
  std::vector<std::string> keys;
  std::int64_t amount;
  std::string path;
  std::string detail_json;
};
void insert_events(const std::vector<NewEvent>& events);

// Marks a txn reversed; true when it was granted and not yet reversed (the
// row is locked first, so concurrent reversals of one txn serialise).
// Waits for an in-flight redemption of the same txn to commit or abort.
std::optional<GrantedTxn> lock_txn_for_reversal(const Uuid& txn);
void mark_reversed(const Uuid& txn, Timestamp at, const std::optional<std::string>& reason);

}  // namespace allot::pg
