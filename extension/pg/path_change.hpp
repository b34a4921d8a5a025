// Moving a key from the fast to the slow path, inside the caller's
// transaction: one procedure for allot.set_path() and the rollup.
//
//   1. close_slot():   kFast -> kClosing. No transaction joins the slot any
//                      more; if our transaction rolls back (an error, a
//                      cancel, a deadlock victim) it goes back to kFast.
//   2. wait_drained(): no transaction holds units on it, so every grant
//                      decided through its meters is committed or gone.
//   3. the caller folds the log up to the slot's last event seq (then the
//      counters hold every grant of the key: exact for the slow path).
//   4. finish_demotion(): durable flag 'slow'; kSlow when we commit.
//      Or reopen(): back to kFast now, nothing changed.
//
// Lock order: the fold (allot.rollup_state) comes before the durable flag
// (allot.entity_state), as in the rollup; taking them the other way round
// deadlocks with it.
#pragma once

#include <chrono>
#include <string>

#include "../core/key_table.hpp"

namespace allot::pg {

bool close_slot(KeySlot& slot);
bool wait_drained(KeySlot& slot, std::chrono::milliseconds limit);
void reopen(KeySlot& slot);
void finish_demotion(KeySlot& slot);

// Writes the durable path flag of `key` ('fast' or 'slow').
void write_durable_path(const std::string& key, const char* path);

}  // namespace allot::pg
