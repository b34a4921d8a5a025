#include "path_change.hpp"

#include "convert.hpp"
#include "fast_path.hpp"
#include "spi.hpp"
#include "waiting.hpp"

namespace allot::pg {

bool close_slot(KeySlot& slot) {
  std::uint32_t fast = static_cast<std::uint32_t>(KeyState::kFast);
  // Register the undo before the change, so that nothing between the two
  // can leave the slot closed (registering may allocate, and so throw).
  // Unless finish_demotion() says otherwise, it reopens at the end.
  change_state_at_commit(slot, KeyState::kFast, KeyState::kFast);
  if (slot.state.compare_exchange_strong(fast, static_cast<std::uint32_t>(KeyState::kClosing)))
    return true;
  forget_state_change(slot);
  return false;
}

bool wait_drained(KeySlot& slot, std::chrono::milliseconds limit) {
  return wait_until([&] { return slot.holders.load() == 0; }, limit);
}

void reopen(KeySlot& slot) {
  forget_state_change(slot);
  slot.state.store(static_cast<std::uint32_t>(KeyState::kFast));
}

void finish_demotion(KeySlot& slot) {
  write_durable_path(std::string(slot.key_view()), "slow");
  retarget_state_change(slot, KeyState::kSlow);
}

void write_durable_path(const std::string& key, const char* path) {
  static Statement stmt(
      "INSERT INTO allot.entity_state AS e (key, path, last_seen) "
      "VALUES ($1, $2, pg_catalog.now()) "
      "ON CONFLICT (key) DO UPDATE SET path = EXCLUDED.path, path_changed_at = pg_catalog.now() "
      "WHERE e.path IS DISTINCT FROM EXCLUDED.path",
      {TEXTOID, TEXTOID});
  execute(stmt, {string_to_text(key), string_to_text(path)});
}

}  // namespace allot::pg
