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
#include "postgres.hpp"

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
// The limits of these scopes, at any time of validity (callers keep those
// valid at their decision time).
std::vector<LimitRule> load_limits(const std::vector<std::string>& scopes);
// Every limit, if there are at most `at_most` of them (nullopt otherwise).
std::optional<std::vector<LimitRule>> load_all_limits(std::size_t at_most);

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
void add_counters(const std::vector<CounterDelta>& deltas);

// The same for the rollup's fold, which may meet windows of a limit
// dropped since it was logged: those are left out (their rows went with
// the limit).
void add_folded_counters(const std::vector<CounterDelta>& deltas);

// Subtracts units from existing counter rows (a reversal). Rows that no
// longer exist (their limit was dropped) are left alone.
void subtract_counters(const std::vector<CounterDelta>& deltas);

struct NewEvent {
  Uuid txn;
  Timestamp at;
  const char* kind;  // "grant" | "deny" | "reverse"
  std::vector<std::string> keys;
  std::int64_t amount;
  std::string path;
  std::string detail_json;
};

// A grant event: its detail is a jsonb Datum (grant_detail_jsonb).
struct NewGrant {
  Uuid txn;
  Timestamp at;
  std::vector<std::string> keys;
  std::int64_t amount;
  std::string path;
  Datum detail;
};

// Inserts grant events; returns txn -> seq of those inserted. A txn
// missing from the result was already granted (by another session that
// committed, or earlier): the unique index on grants is what makes redeem
// idempotent.
std::map<Uuid, std::int64_t> insert_grants(const std::vector<NewGrant>& grants);

// Inserts a reversal; nullopt when the txn was already reversed.
std::optional<std::int64_t> insert_reverse_event(const NewEvent& reverse);

// Denials and other events without a uniqueness rule.
void insert_events(const std::vector<NewEvent>& events);

// The grant of txn, waiting for an in-flight redemption of it to commit or
// roll back, in the recent log or else in the archive; nullopt when it was
// never granted (or its archive partition was dropped).
std::optional<GrantedTxn> find_grant_for_reversal(const Uuid& txn);

// Durable path flags (allot.entity_state) of the keys that have a row.
std::map<std::string, std::string> load_entity_paths(const std::vector<std::string>& keys);

// What a key needs to be loaded into shared memory, read by one statement
// at the latest snapshot: the durable path flags of `keys` (as
// load_entity_paths) and the counter rows of `spans` (as load_counters).
struct KeysAtLoad {
  std::map<std::string, std::string> paths;
  UsageLedger usage;
};
KeysAtLoad load_keys(const std::vector<std::string>& keys, const std::vector<CounterSpan>& spans);

}  // namespace allot::pg
