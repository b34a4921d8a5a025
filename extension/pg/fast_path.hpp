// The fast path, backend side: which keys a redemption decides from
// shared-memory meters, the units this transaction holds there, and giving
// them back when it (or a savepoint) rolls back.
//
// A limited key is decided on the fast path when pg_allot is preloaded and
// the key has a slot in state kFast (created on first use when the key is
// eligible and not marked slow). Otherwise it goes the slow path: its
// entity row is locked and its counters read. While a transaction decides
// keys on the slow path it holds their stripes, and no fast slot is created
// for a key whose stripe is held: the two paths never count one key at the
// same time.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "../core/key_table.hpp"
#include "../core/limit_rule.hpp"
#include "../core/time.hpp"

namespace allot::pg {

// Preloaded and this database's log folded since the server started (or
// since CREATE EXTENSION). Until that first fold nothing is decided on the
// fast path: the counters may miss fast grants made before a restart.
// kByTheWorker waits (briefly) for the rollup worker to fold, holding no
// lock: a fold inside a redemption's transaction would keep the fold's
// locks until that transaction ends, and every other redemption in the
// database would queue behind it. Only if the worker does not fold within
// a few seconds does the caller fold itself. kHere folds at once, in the
// caller's transaction (the rollup itself).
enum class FirstFold { kByTheWorker, kHere };
bool fast_path_ready(FirstFold first = FirstFold::kByTheWorker);

// Routes the limited keys (bytewise order). Fast keys come back pinned in
// `fast`; the others are appended to `slow` with their stripes held.
using RulesOf = std::map<std::string, std::vector<const LimitRule*>>;
void route_keys(const RulesOf& rules, Timestamp now, std::map<std::string, PinnedSlot>* fast,
                std::vector<std::string>* slow);

// Thrown (a plain C++ exception, caught by the engine) when a key's meter
// has moved past the window holding the decision time: another session
// decided later and moved it. The decision is made again at a later time.
struct DecisionTimeBehind {
  Timestamp meter_window;
};

// The meter of `rule` on a fast key, at the window holding `now` (created
// or moved forward from the counters when needed). Throws
// DecisionTimeBehind when the meter is at a later window.
Meter& meter_for(KeySlot& slot, const std::string& key, const LimitRule& rule,
                 const std::vector<const LimitRule*>& key_rules, Timestamp now);

// Reserves units on a meter for this transaction. On success the units are
// held (given back if the transaction or savepoint rolls back) and their
// index is returned in *held.
Reservation reserve_units(KeySlot& slot, Meter& meter, const LimitRule& rule, Timestamp window,
                          std::int64_t amount, std::size_t* held);
// Gives held units back now (a denied item, or a txn another session won).
void release_units(const std::vector<std::size_t>& held);
std::size_t held_count();
// Gives back every unit held since held_count() returned `first`.
void release_units_since(std::size_t first);

// A committed reversal gives units back to a fast key's meter: at commit.
void give_back_on_commit(KeySlot& slot, Meter& meter, std::uint64_t generation,
                         std::int64_t amount);

// After a slot was written through: remember its last event seq and use,
// and count the units granted through it (the rollup turns them into the
// key's rate; a grant that later rolls back still counts: it is a rate).
void note_slot_use(KeySlot& slot, std::int64_t seq, Timestamp now, std::int64_t units = 0);

// A path change that takes effect when this transaction commits (undone
// if it rolls back).
void change_state_at_commit(KeySlot& slot, KeyState on_commit, KeyState on_abort);
// The pending change of `slot` now ends in `on_commit` if we commit (undone
// with the subtransaction that retargets it, if that rolls back).
void retarget_state_change(KeySlot& slot, KeyState on_commit);
// The state this transaction gives `slot` when it commits, if it changes it.
std::optional<KeyState> pending_state_change(const KeySlot& slot);
// Whether this transaction joined the fast slot (it holds or owes units on it).
bool holds_slot(const KeySlot& slot);
// Drops the pending change of `slot` (the caller has undone it already).
void forget_state_change(KeySlot& slot);

// Registers the transaction callbacks (from _PG_init).
void register_fast_path_callbacks();

}  // namespace allot::pg
