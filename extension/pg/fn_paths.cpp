// SQL entry points of the fast path's management: allot.rollup(),
// allot.set_path(), allot._shared_keys(), allot._preloaded().
#include <nlohmann/json.hpp>

#include "../core/key.hpp"
#include "convert.hpp"
#include "fast_path.hpp"
#include "guard.hpp"
#include "path_change.hpp"
#include "result.hpp"
#include "rollup.hpp"
#include "settings.hpp"
#include "shared_state.hpp"
#include "spi.hpp"
#include "store.hpp"
#include "sql_args.hpp"
#include "waiting.hpp"

using namespace allot;
using namespace allot::pg;

namespace {

const char* state_name(KeyState s) {
  switch (s) {
    case KeyState::kLoading:
      return "loading";
    case KeyState::kFast:
      return "fast";
    case KeyState::kClosing:
      return "closing";
    case KeyState::kSlow:
      return "slow";
    default:
      return "empty";
  }
}

std::optional<std::string> durable_path(const std::string& key) {
  const std::map<std::string, std::string> paths = load_entity_paths({key});
  if (paths.empty()) return std::nullopt;
  return paths.begin()->second;
}

// How long set_path() keeps trying to move a key before it gives up with
// 55P03 (the caller tries again later).
constexpr std::chrono::seconds kMovePatience{10};
// How long one attempt keeps a key closed: long enough for the
// transactions in flight on it to end and the fold to reach its last grant,
// short enough that redemptions waiting for the key hardly notice.
constexpr std::chrono::milliseconds kClosedAtMost{200};

enum class MoveAttempt { kDone, kNotDrained, kNotFolded };

// Steps 2-4 of path_change.hpp on a slot we closed: on kDone it is demoted
// (slow at commit); otherwise it is still closed and the caller reopens it.
MoveAttempt try_demotion(KeySlot& slot) {
  if (!wait_drained(slot, kClosedAtMost)) return MoveAttempt::kNotDrained;
  // The fold reaches the key's last grant once no transaction that
  // registered before it is still in flight.
  if (!wait_until([&] { return slot.max_event_seq.load() <= fold_now(); }, kClosedAtMost))
    return MoveAttempt::kNotFolded;
  finish_demotion(slot);
  return MoveAttempt::kDone;
}

// A second move of a key this transaction moves already: the last one
// wins at commit. The slot stays as the first move left it (loading,
// closing, or a slow marker) until we end; only its target changes. A key
// moved to the fast path is emptied at commit rather than reopened: its
// counters are exact by then (a closed slot was drained and folded, and
// our own redemptions of it took the slow path), so the next redemption
// loads it afresh from them and from the durable flag.
std::string move_again(KeySlot& slot, const std::string& key, const std::string& path,
                       const std::optional<std::string>& stored) {
  write_durable_path(key, path.c_str());
  retarget_state_change(slot, path == "slow" ? KeyState::kSlow : KeyState::kEmpty);
  return stored.value_or("fast");
}

// Moves `key` to `path` at commit; returns the path it was on.
std::string set_path(const std::string& key, const std::string& path) {
  if (path != "fast" && path != "slow")
    throw BadInput(ErrorCode::kInvalidParameter,
                   "path must be 'fast' or 'slow', got " + quote_for_message(path));
  validate_keys({key});
  if (path == "fast" && !shared_state_available())
    throw SqlError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                   "the fast path needs pg_allot in shared_preload_libraries");
  const std::optional<std::string> stored = durable_path(key);
  // Preloaded but without shared state here (the transaction that creates
  // pg_allot, or no room for this database): the durable flag alone
  // decides, when the key is first loaded.
  if (!fast_path_ready()) {
    write_durable_path(key, path.c_str());
    return shared_state_available() ? stored.value_or("fast") : "slow";
  }
  const auto deadline = std::chrono::steady_clock::now() + kMovePatience;
  for (;;) {
    auto claimed = key_table().find_or_claim(MyDatabaseId, key);
    if (!claimed) {
      // No room in shared memory: the durable flag alone decides.
      write_durable_path(key, path.c_str());
      return stored.value_or("fast");
    }
    KeySlot& slot = *claimed->slot;
    if (claimed->created) {
      // Not in shared memory: the durable flag decides when it is loaded.
      // The slot stays loading (redemptions of the key wait) until we end,
      // so that nobody loads the flag we are about to change.
      write_durable_path(key, path.c_str());
      change_state_at_commit(slot, path == "slow" ? KeyState::kSlow : KeyState::kEmpty,
                             KeyState::kEmpty);
      return stored.value_or("fast");
    }
    // Moved earlier in this transaction: waiting for the move to end would
    // be waiting for ourselves.
    if (pending_state_change(slot)) return move_again(slot, key, path, stored);
    const KeyState state = slot.load_state();
    if (state == KeyState::kFast && path == "fast") return "fast";
    if (state == KeyState::kFast) {
      // Our own units on it cannot be folded before we commit, so draining
      // it would wait for ourselves.
      if (holds_slot(slot))
        throw SqlError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                       "key " + quote_for_message(key) +
                           " was redeemed or reversed on the fast path in this transaction; "
                           "move it to the slow path in another transaction");
      if (!close_slot(slot)) continue;  // changed meanwhile: look again
      // From here an error (or a cancel) rolls us back, which reopens it.
      const MoveAttempt attempt = try_demotion(slot);
      if (attempt == MoveAttempt::kDone) return "fast";
      // Not yet: open the key again before waiting any longer. A
      // transaction the move waits for may itself be waiting to redeem
      // this key (it holds an earlier grant the fold cannot pass until it
      // commits); kept closed, the two would wait for each other.
      reopen(slot);
      claimed->slot.reset();
      if (std::chrono::steady_clock::now() > deadline)
        throw SqlError(ERRCODE_LOCK_NOT_AVAILABLE,
                       attempt == MoveAttempt::kNotDrained
                           ? "key " + quote_for_message(key) +
                                 " is held by transactions that do not finish"
                           : "key " + quote_for_message(key) +
                                 " has grants the rollup cannot fold yet; try again");
      pause_briefly(20000);
      continue;
    }
    if (state == KeyState::kSlow) {
      write_durable_path(key, path.c_str());
      if (path == "fast") change_state_at_commit(slot, KeyState::kEmpty, KeyState::kSlow);
      return "slow";
    }
    // Loading or closing: another session is changing it; wait.
    claimed->slot.reset();
    if (std::chrono::steady_clock::now() > deadline)
      throw SqlError(ERRCODE_LOCK_NOT_AVAILABLE,
                     "key " + quote_for_message(key) + " is changing path; try again");
    pause_briefly(1000);
  }
}

}  // namespace

extern "C" {

PG_FUNCTION_INFO_V1(allot_rollup);
Datum allot_rollup(PG_FUNCTION_ARGS) {
  return run_guarded([&]() -> Datum {
    SpiSession spi;
    const RollupResult r = run_rollup();
    spi.finish();
    ResultSet out(fcinfo);
    Datum values[4] = {Int64GetDatum(r.events), Int64GetDatum(r.keys), Int32GetDatum(r.promoted),
                       Int32GetDatum(r.demoted)};
    bool nulls[4] = {false, false, false, false};
    out.add(values, nulls);
    return Datum(0);
  });
}

PG_FUNCTION_INFO_V1(allot_set_path);
Datum allot_set_path(PG_FUNCTION_ARGS) {
  return run_guarded([&]() -> Datum {
    const std::string key = text_to_string(required_arg(fcinfo, 0, "key"));
    const std::string path = text_to_string(required_arg(fcinfo, 1, "path"));
    SpiSession spi;
    const std::string before = set_path(key, path);
    spi.finish();
    return string_to_text(before);
  });
}

PG_FUNCTION_INFO_V1(allot_shared_keys);
Datum allot_shared_keys(PG_FUNCTION_ARGS) {
  return run_guarded([&]() -> Datum {
    ResultSet out(fcinfo);
    if (!shared_state_available()) return Datum(0);
    struct Row {
      std::string key, state, meters;
      double rate;
      Timestamp last_used, since;
      std::int64_t holders;
    };
    std::vector<Row> rows;
    key_table().for_each([&](KeySlot& s) {
      const KeyState st = s.load_state();
      if (s.db != MyDatabaseId || st == KeyState::kEmpty || st == KeyState::kRetiring) return;
      nlohmann::json meters = nlohmann::json::array();
      for (Meter& m : s.meters)
        if (m.limit_id.load() != 0)
          meters.push_back({m.limit_id.load(), format_timestamp(m.window_start.load()),
                            m.used.load()});
      rows.push_back({std::string(s.key_view()), state_name(st), meters.dump(), s.rate(),
                      s.last_used.load(), s.state_since.load(), s.holders.load()});
    });
    for (const Row& r : rows) {
      Datum values[7] = {string_to_text(r.key),
                         string_to_text(r.state),
                         Float8GetDatum(r.rate),
                         TimestampTzGetDatum(r.last_used),
                         TimestampTzGetDatum(r.since),
                         Int64GetDatum(r.holders),
                         pg_call([&] {
                           return DirectFunctionCall1(jsonb_in,
                                                      CStringGetDatum(r.meters.c_str()));
                         })};
      bool nulls[7] = {false, false, false, r.last_used == 0, r.since == 0, false, false};
      out.add(values, nulls);
    }
    return Datum(0);
  });
}

PG_FUNCTION_INFO_V1(allot_preloaded);
Datum allot_preloaded(PG_FUNCTION_ARGS) {
  (void)fcinfo;
  PG_RETURN_BOOL(shared_state_available());
}

}  // extern "C"
