#include "fast_path.hpp"

#include <algorithm>

#include "../core/window.hpp"
#include "guard.hpp"
#include "postgres.hpp"
#include "rollup.hpp"
#include "settings.hpp"
#include "shared_state.hpp"
#include "store.hpp"
#include "waiting.hpp"

namespace allot::pg {
namespace {

struct HeldUnits {
  KeySlot* slot;
  Meter* meter;
  std::uint64_t generation;
  std::int64_t amount;
  int level;  // transaction nesting level that reserved them
  bool live;  // false once given back
};

// A path change that takes effect at commit. A later change of the same
// slot in the same transaction retargets it; made in a deeper
// subtransaction, that is recorded as a retarget entry holding the target
// before it, so that rolling back the subtransaction restores the target.
struct StateChange {
  KeySlot* slot;
  KeyState on_commit;
  KeyState on_abort;
  int level;  // 0: settled (undone by a subtransaction's rollback)
  bool retarget = false;
  KeyState prior_on_commit = KeyState::kEmpty;  // retarget entries only
};

// This transaction's fast-path state. Plain containers in backend memory,
// emptied at the end of every transaction.
std::vector<HeldUnits> g_held;
std::vector<HeldUnits> g_commit_give_backs;
std::vector<KeySlot*> g_holding;  // slots whose holders count includes us
std::vector<std::atomic<std::uint32_t>*> g_stripes;
std::vector<StateChange> g_state_changes;
bool g_folded_here = false;  // this transaction folded the log after a restart

// The live change of slot this transaction will apply at its end.
StateChange* live_change(const KeySlot* slot) {
  for (StateChange& c : g_state_changes)
    if (c.slot == slot && !c.retarget && c.level != 0) return &c;
  return nullptr;
}

// Gives held units back now (once: a second call finds them gone).
void give_back_now(HeldUnits& h) {
  if (!h.live) return;
  give_back(*h.meter, h.generation, h.amount);
  h.live = false;
}

bool holds(const KeySlot* slot) {
  return std::find(g_holding.begin(), g_holding.end(), slot) != g_holding.end();
}

// Joins a fast slot for the rest of the transaction: while we hold it, it
// is neither retired nor moved to the slow path. Count first, look at the
// state second (whoever changes the state does the opposite).
bool join_slot(KeySlot& slot) {
  if (holds(&slot)) return true;
  g_holding.reserve(g_holding.size() + 1);  // may throw before we count
  slot.holders.fetch_add(1);
  if (slot.load_state() != KeyState::kFast) {
    slot.holders.fetch_sub(1);
    return false;
  }
  g_holding.push_back(&slot);
  return true;
}

void set_state(KeySlot& slot, KeyState s) {
  slot.state.store(static_cast<std::uint32_t>(s));
  slot.state_since.store(GetCurrentTimestamp());
}

void apply_state_change(const StateChange& c, bool committed) {
  const KeyState target = committed ? c.on_commit : c.on_abort;
  if (target == KeyState::kEmpty) {
    // Dropping a slow marker (or a slot we kept loading): it has no meters
    // and nobody holds units on it, so a reader that pinned it in passing
    // loses nothing when it empties; retire() would refuse it and leave the
    // key stuck.
    KeyTable::abandon(c.slot);
    return;
  }
  if (target == KeyState::kSlow)
    for (Meter& m : c.slot->meters) free_meter(*c.slot, m);
  set_state(*c.slot, target);
}

// End of a transaction: nothing here may throw or ereport.
void finish_transaction(bool committed) {
  if (committed) {
    for (const HeldUnits& h : g_commit_give_backs)
      if (h.live) give_back(*h.meter, h.generation, h.amount);
  } else {
    for (const HeldUnits& h : g_held)
      if (h.live) give_back(*h.meter, h.generation, h.amount);
  }
  for (const StateChange& c : g_state_changes)
    if (!c.retarget) apply_state_change(c, committed);
  for (KeySlot* s : g_holding) s->holders.fetch_sub(1);
  for (auto* stripe : g_stripes) stripe->fetch_sub(1);
  if (committed && g_folded_here)
    if (DatabaseState* d = my_database()) d->folded.store(1);
  clear_fold_writer();
  g_held.clear();
  g_commit_give_backs.clear();
  g_holding.clear();
  g_stripes.clear();
  g_state_changes.clear();
  g_folded_here = false;
}

bool holds_anything() {
  return !g_held.empty() || !g_commit_give_backs.empty() || !g_holding.empty() ||
         !g_stripes.empty() || !g_state_changes.empty();
}

void on_xact(XactEvent event, void*) {
  switch (event) {
    case XACT_EVENT_COMMIT:
      finish_transaction(true);
      break;
    case XACT_EVENT_ABORT:
      finish_transaction(false);
      break;
    case XACT_EVENT_PRE_PREPARE:
      if (holds_anything())
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("pg_allot cannot PREPARE a transaction that redeemed while "
                               "preloaded"),
                        errhint("Commit redemptions in one-phase transactions.")));
      break;
    default:
      break;
  }
}

void on_subxact(SubXactEvent event, SubTransactionId, SubTransactionId, void*) {
  const int level = GetCurrentTransactionNestLevel();
  if (event == SUBXACT_EVENT_ABORT_SUB) {
    for (HeldUnits& h : g_held)
      if (h.level >= level) give_back_now(h);
    for (HeldUnits& h : g_commit_give_backs)
      if (h.level >= level) h.live = false;
    // Newest first: a retarget made in the aborted subtransaction gives its
    // change back the target it had before.
    for (auto c = g_state_changes.rbegin(); c != g_state_changes.rend(); ++c) {
      if (c->level < level || c->level == 0) continue;
      if (c->retarget) {
        if (StateChange* base = live_change(c->slot)) base->on_commit = c->prior_on_commit;
      } else {
        apply_state_change(*c, false);
        c->on_commit = c->on_abort = c->slot->load_state();
      }
      c->level = 0;
    }
  } else if (event == SUBXACT_EVENT_COMMIT_SUB) {
    for (HeldUnits& h : g_held)
      if (h.level >= level) h.level = level - 1;
    for (HeldUnits& h : g_commit_give_backs)
      if (h.level >= level) h.level = level - 1;
    for (StateChange& c : g_state_changes)
      if (c.level >= level) c.level = level - 1;
  }
}

// Waits a little for another session to finish a state change (a slot
// being loaded, or moved to the slow path). These last a few milliseconds;
// after ~10 s something is wrong: give up with an error the client retries.
void wait_a_moment(int* rounds, const std::string& key) {
  if (++*rounds > 10000)
    throw SqlError(ERRCODE_T_R_SERIALIZATION_FAILURE,
                   "key " + key + " is changing path; try again");
  pause_briefly(1000);
}

void hold_stripe(const std::string& key) {
  auto& stripe = stripe_of(key);
  g_stripes.reserve(g_stripes.size() + 1);
  stripe.fetch_add(1);
  g_stripes.push_back(&stripe);
}

// Slow-path transactions in flight on `stripe` besides ours. Our own
// slow-path units need no waiting for: they are in the counters a load
// reads (our own writes are visible to us).
std::uint32_t others_on_stripe(const std::atomic<std::uint32_t>& stripe) {
  const auto ours = std::count(g_stripes.begin(), g_stripes.end(), &stripe);
  return stripe.load() - static_cast<std::uint32_t>(ours);
}

// How long a redemption that claimed a key's slot waits for the slow-path
// transactions in flight on its stripe to end before it lets the key go
// the slow path after all.
constexpr std::chrono::milliseconds kStripeDrainAtMost{250};

void drop_last_stripe() {
  g_stripes.back()->fetch_sub(1);
  g_stripes.pop_back();
}

// Loads claimed (kLoading) slots: the key's durable path flag and the
// counters of its limits' current windows; publishes kFast or kSlow.
void load_slots(const std::vector<std::pair<std::string, KeySlot*>>& claimed,
                const RulesOf& rules, Timestamp now) {
  KeysAtLoad loaded;
  try {
    std::vector<std::string> keys;
    std::vector<CounterSpan> spans;
    for (const auto& [key, slot] : claimed) {
      keys.push_back(key);
      for (const LimitRule* r : rules.at(key)) spans.push_back({key, r->id, place(*r, now).check_span});
    }
    loaded = load_keys(keys, spans);
  } catch (...) {
    for (const auto& [key, slot] : claimed) KeyTable::abandon(slot);
    throw;
  }
  const std::map<std::string, std::string>& paths = loaded.paths;
  const UsageLedger& ledger = loaded.usage;
  for (const auto& [key, slot] : claimed) {
    auto p = paths.find(key);
    if (p != paths.end() && p->second == "slow") {
      set_state(*slot, KeyState::kSlow);
      continue;
    }
    for (const LimitRule* r : rules.at(key)) {
      const Placement where = place(*r, now);
      assign_meter(*slot, r->id, where.counted_start,
                   ledger.used(key, r->id, where.check_span.from, where.check_span.to));
    }
    slot->last_used.store(now);
    set_state(*slot, KeyState::kFast);
    join_slot(*slot);  // nobody else can have moved it yet
  }
}

}  // namespace

void register_fast_path_callbacks() {
  RegisterXactCallback(on_xact, nullptr);
  RegisterSubXactCallback(on_subxact, nullptr);
}

bool fast_path_ready(FirstFold first) {
  if (!shared_state_available()) {
    fold_leftovers_once();
    return false;
  }
  DatabaseState* d = my_database();
  if (!d) return false;
  if (d->folded.load() || g_folded_here) return true;
  if (first == FirstFold::kByTheWorker) {
    // The launcher starts a worker now even if the last one found no
    // extension here and was told to come back later.
    want_worker(*d);
    wake_launcher();  // a new database: no idle_until to clear, but no worker yet either
    // Unless the launcher finds no free worker slot: then fold here now.
    wait_until([d] { return d->folded.load() != 0 || d->no_worker_slot.load() != 0; },
               std::chrono::seconds(5));
    if (d->folded.load()) return true;
  }
  // After a (crash-)restart shared memory is empty and the counters may
  // miss fast grants that committed before it: fold the log first. Other
  // sessions doing the same wait for our fold's lock, then find nothing.
  fold_now();
  g_folded_here = true;
  return true;
}

void route_keys(const RulesOf& rules, Timestamp now, std::map<std::string, PinnedSlot>* fast,
                std::vector<std::string>* slow) {
  const bool shared = fast_path_ready();
  const std::uint32_t db = MyDatabaseId;
  std::vector<std::pair<std::string, KeySlot*>> claimed;
  std::vector<std::string> pending;
  for (const auto& [key, key_rules] : rules)
    if (!key_rules.empty()) pending.push_back(key);

  // Slots we claimed stay loading (everyone else waits for them) until
  // load_slots() publishes them: an error or a cancel in one of the waits
  // below must give them up, or their keys would be stuck.
  try {
    for (const std::string& key : pending) {
      if (!shared) {
        slow->push_back(key);
        continue;
      }
      const std::vector<const LimitRule*>& key_rules = rules.at(key);
      const bool eligible = fast_path_enabled() && fast_path_eligible(key_rules) &&
                            key.size() <= kMaxSharedKeyBytes;
      int rounds = 0;
      for (;;) {
        PinnedSlot slot = key_table().find(db, key);
        if (!slot && eligible) {
          auto c = key_table().find_or_claim(db, key);
          if (c && c->created) {
            // Dekker with the slow path: we published kLoading, now look at
            // the stripe; a slow-path transaction raised the stripe, then
            // looks for a slot. One of us sees the other. Those that came
            // first are in flight and end soon; those that come now see
            // our slot and wait for it. So wait for the first a moment:
            // under a steady stream of slow-path redemptions the stripe is
            // never down, and a hot key moved back to the fast path
            // (allot.set_path, the rollup) would never get there. A bounded
            // wait, because one of them may be waiting for us.
            const auto& stripe = stripe_of(key);
            claimed.emplace_back(key, c->slot.get());  // given up if the wait throws
            if (wait_until([&stripe] { return others_on_stripe(stripe) == 0; },
                           kStripeDrainAtMost)) {
              (*fast)[key] = std::move(c->slot);
              break;
            }
            claimed.pop_back();
            KeyTable::abandon(c->slot.get());
            c->slot.reset();
            slot = PinnedSlot();
          } else if (c) {
            slot = std::move(c->slot);
          }
        }
        if (slot) {
          const KeyState s = slot->load_state();
          if ((s == KeyState::kFast || s == KeyState::kClosing) && join_slot(*slot)) {
            (*fast)[key] = std::move(slot);
            break;
          }
          // A key this transaction is moving (allot.set_path earlier in it)
          // is loading or closing until we end: waiting would be waiting
          // on ourselves. Its counters are exact (a closed slot was drained
          // and folded), so it takes the slow path, and whatever the move
          // ends in at commit counts from those counters.
          if (s != KeyState::kSlow && !pending_state_change(*slot)) {
            slot.reset();
            wait_a_moment(&rounds, key);
            continue;
          }
          // kSlow, or moved by us: the slow path, below.
        }
        // Slow path: raise the stripe, then make sure no fast slot appeared.
        hold_stripe(key);
        PinnedSlot now_there = key_table().find(db, key);
        if (now_there && now_there->load_state() != KeyState::kSlow &&
            !pending_state_change(*now_there)) {
          drop_last_stripe();
          now_there.reset();
          wait_a_moment(&rounds, key);
          continue;
        }
        slow->push_back(key);
        break;
      }
    }
  } catch (...) {
    for (const auto& [key, slot] : claimed) KeyTable::abandon(slot);
    throw;
  }
  if (!claimed.empty()) {
    load_slots(claimed, rules, now);
    // A claimed key found marked slow in the table goes the slow path.
    for (const auto& [key, slot] : claimed) {
      if (slot->load_state() == KeyState::kFast) continue;
      fast->erase(key);
      hold_stripe(key);
      slow->push_back(key);
    }
    std::sort(slow->begin(), slow->end());
  }
}

Meter& meter_for(KeySlot& slot, const std::string& key, const LimitRule& rule,
                 const std::vector<const LimitRule*>& key_rules, Timestamp now) {
  const Placement where = place(rule, now);
  for (int attempt = 0;; ++attempt) {
    Meter* m = find_meter(slot, rule.id);
    if (m) {
      const Timestamp at = m->window_start.load();
      if (at == where.counted_start) return *m;
      if (at > where.counted_start) throw DecisionTimeBehind{at};
    }
    // Missing (a limit added since the slot was loaded) or behind (a new
    // window): no unit of this key was counted there through the slot, and
    // none on the slow path while the slot is fast, so the counters are
    // exact for it.
    const std::int64_t used =
        load_counters({{key, rule.id, where.check_span}})
            .used(key, rule.id, where.check_span.from, where.check_span.to);
    if (m) {
      roll_meter(*m, rule.id, where.counted_start, used);
      continue;
    }
    if (assign_meter(slot, rule.id, where.counted_start, used)) continue;
    // All meters taken: free those of limits that no longer apply.
    for (Meter& other : slot.meters) {
      const std::int64_t id = other.limit_id.load();
      const bool applies = std::any_of(key_rules.begin(), key_rules.end(),
                                       [id](const LimitRule* r) { return r->id == id; });
      if (!applies) free_meter(slot, other);
    }
    if (attempt > 3)
      throw SqlError(ERRCODE_T_R_SERIALIZATION_FAILURE,
                     "key " + key + " has no free meter on the fast path; try again");
  }
}

Reservation reserve_units(KeySlot& slot, Meter& meter, const LimitRule& rule, Timestamp window,
                          std::int64_t amount, std::size_t* held) {
  g_held.reserve(g_held.size() + 1);  // so the push_back below cannot throw
  Reservation r = reserve(meter, rule.id, window, amount, rule.max, rule.mode == Mode::kEnforce);
  if (r.result == Reservation::Result::kReserved) {
    *held = g_held.size();
    g_held.push_back({&slot, &meter, r.generation, amount, GetCurrentTransactionNestLevel(), true});
  }
  return r;
}

void release_units(const std::vector<std::size_t>& held) {
  for (std::size_t i : held) give_back_now(g_held.at(i));
}

std::size_t held_count() { return g_held.size(); }

void release_units_since(std::size_t first) {
  for (std::size_t i = first; i < g_held.size(); ++i) give_back_now(g_held[i]);
}

void give_back_on_commit(KeySlot& slot, Meter& meter, std::uint64_t generation,
                         std::int64_t amount) {
  g_commit_give_backs.push_back(
      {&slot, &meter, generation, amount, GetCurrentTransactionNestLevel(), true});
}

void note_slot_use(KeySlot& slot, std::int64_t seq, Timestamp now, std::int64_t units) {
  std::int64_t seen = slot.max_event_seq.load();
  while (seen < seq && !slot.max_event_seq.compare_exchange_weak(seen, seq)) {
  }
  slot.last_used.store(now);
  if (units == 0) return;
  slot.units_since_rollup.fetch_add(units, std::memory_order_relaxed);
  // Read first: the flag's cache line is only written once per rollup.
  if (DatabaseState* d = my_database(); d && d->keys_granted.load(std::memory_order_relaxed) == 0)
    d->keys_granted.store(1);
}

void change_state_at_commit(KeySlot& slot, KeyState on_commit, KeyState on_abort) {
  g_state_changes.push_back({&slot, on_commit, on_abort, GetCurrentTransactionNestLevel()});
}

void retarget_state_change(KeySlot& slot, KeyState on_commit) {
  StateChange* base = live_change(&slot);
  if (!base) return;
  const int level = GetCurrentTransactionNestLevel();
  if (base->level < level) {
    StateChange undo{&slot, on_commit, on_commit, level};
    undo.retarget = true;
    undo.prior_on_commit = base->on_commit;
    g_state_changes.push_back(undo);  // may throw: nothing is changed yet
    base = live_change(&slot);        // the push may have moved it
  }
  base->on_commit = on_commit;
}

std::optional<KeyState> pending_state_change(const KeySlot& slot) {
  if (const StateChange* c = live_change(&slot)) return c->on_commit;
  return std::nullopt;
}

bool holds_slot(const KeySlot& slot) { return holds(&slot); }

void forget_state_change(KeySlot& slot) {
  g_state_changes.erase(std::remove_if(g_state_changes.begin(), g_state_changes.end(),
                                       [&](const StateChange& c) { return c.slot == &slot; }),
                        g_state_changes.end());
}

}  // namespace allot::pg
