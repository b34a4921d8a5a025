#include "engine.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "../core/applicable.hpp"
#include "../core/decide.hpp"
#include "../core/key.hpp"
#include "../core/window.hpp"
#include "convert.hpp"
#include "fast_path.hpp"
#include "grant_detail.hpp"
#include "shared_state.hpp"
#include "guard.hpp"
#include "limits_cache.hpp"
#include "settings.hpp"
#include "stats.hpp"
#include "store.hpp"

namespace allot::pg {
namespace {

// The limits of a set of keys, loaded once and resolved per key.
class RuleBook {
 public:
  RuleBook(const std::set<std::string>& keys, Timestamp now) {
    std::vector<std::string> scopes;
    std::map<std::string, std::string> class_of;
    for (const std::string& k : keys) {
      const std::string c = key_class(k);
      scopes.push_back(k);
      scopes.push_back(c);
      class_of[k] = c;
    }
    std::sort(scopes.begin(), scopes.end());
    scopes.erase(std::unique(scopes.begin(), scopes.end()), scopes.end());
    if (!keys.empty()) limits_ = limits_of(scopes);
    for (const auto& [key, cls] : class_of) rules_[key] = applicable_rules(key, cls, limits_, now);
  }
  RuleBook(const RuleBook&) = delete;

  const std::vector<const LimitRule*>& rules(const std::string& key) const {
    return rules_.at(key);
  }
  // Keys with at least one applicable limit, sorted bytewise (lock order).
  std::vector<std::string> limited_keys() const {
    std::vector<std::string> out;
    for (const auto& [key, rules] : rules_)
      if (!rules.empty()) out.push_back(key);
    return out;  // std::map iterates in bytewise key order
  }
  // Counters of the given keys (the slow ones: fast keys use meters).
  UsageLedger load_usage(Timestamp now, const std::vector<std::string>& keys) const {
    std::vector<CounterSpan> spans;
    for (const std::string& key : keys)
      for (const LimitRule* r : rules(key)) spans.push_back({key, r->id, place(*r, now).check_span});
    return load_counters(spans);
  }
  std::vector<KeyRules> for_request(const std::vector<std::string>& keys) const {
    std::vector<KeyRules> out;
    for (const std::string& k : keys) out.push_back({k, rules(k)});
    return out;
  }

 private:
  std::vector<LimitRule> limits_;  // owns the rules the pointers below point to
  std::map<std::string, std::vector<const LimitRule*>> rules_;
};

nlohmann::json limit_json(const LimitCheck& c) {
  return {{"key", c.key}, {"limit_id", c.rule->id}, {"used", c.used}, {"max", c.rule->max}};
}

// A shadow limit that would have denied: recorded, never enforced.
bool shadow_denied(const LimitCheck& c) { return !c.has_room && c.rule->mode == Mode::kShadow; }

nlohmann::json shadow_json(const Outcome& o) {
  nlohmann::json shadow = nlohmann::json::array();
  for (const LimitCheck& c : o.checks)
    if (shadow_denied(c)) shadow.push_back(limit_json(c));
  return shadow;
}

std::string deny_detail(const Outcome& o) {
  nlohmann::json denied = nlohmann::json::array();
  for (const LimitCheck& c : o.checks)
    if (!c.has_room && c.rule->mode == Mode::kEnforce) denied.push_back(limit_json(c));
  nlohmann::json d = {{"denied", denied}};
  nlohmann::json shadow = shadow_json(o);
  if (!shadow.empty()) d["shadow_denied"] = shadow;
  if (o.retry_after) d["retry_after_ms"] = *o.retry_after / 1000;
  return d.dump();
}

ItemResult replay_of(const Request& req, const std::vector<std::string>& sorted,
                     const GrantedTxn& stored, bool raise_conflicts) {
  ItemResult r;
  if (sorted != stored.sorted_keys || req.amount != stored.amount) {
    const std::string msg =
        "txn " + format_uuid(req.txn) + " was already granted with different keys or amount";
    if (raise_conflicts)
      throw SqlError(ERRCODE_UNIQUE_VIOLATION, msg,
                     "granted: keys " + array_literal(stored.sorted_keys) + ", amount " +
                         std::to_string(stored.amount));
    r.error = msg;
    return r;
  }
  r.granted = true;
  r.replayed = true;
  r.path = stored.path;
  count(Stat::kReplays);
  return r;
}

// Where a redemption's keys are decided: fast keys from their meters,
// slow keys from their locked rows and counters.
struct Routing {
  std::map<std::string, PinnedSlot> fast;
  std::vector<std::string> slow;  // bytewise order

  bool is_fast(const std::string& key) const { return fast.count(key) != 0; }
};

// A granted item before it is written: its outcome, and for each check
// the window it was counted in and whether a meter counted it.
struct PendingGrant {
  std::size_t item;
  Outcome outcome;
  std::vector<bool> on_meter;        // per check
  std::vector<std::size_t> held;     // reservations to give back if it loses
  std::string path;
};

Datum grant_detail(const PendingGrant& g) {
  std::vector<CountedCheck> counted;
  std::vector<ShadowDenial> shadow;
  for (std::size_t i = 0; i < g.outcome.checks.size(); ++i) {
    const LimitCheck& c = g.outcome.checks[i];
    counted.push_back({c.key, c.rule->id, format_timestamp(c.counted_start), g.on_meter[i]});
    if (shadow_denied(c)) shadow.push_back({c.key, c.rule->id, c.used, c.rule->max});
  }
  return grant_detail_jsonb(counted, shadow);
}

// Decides one request: usage of slow keys from the ledger (counters plus
// this batch's earlier grants), of fast keys from their meters. A grant
// reserves on the meters; if a meter ran out in the meantime (another
// session took the last units), decide again with what it says.
struct Decision {
  Outcome outcome;
  std::vector<bool> on_meter;
  std::vector<std::size_t> held;
};

Decision decide_request(const Request& req, const RuleBook& book, const Routing& routing,
                        UsageLedger* ledger, Timestamp now) {
  const std::vector<KeyRules> key_rules = book.for_request(req.keys);
  // Fast keys: what their meters say now.
  for (const KeyRules& kr : key_rules) {
    auto f = routing.fast.find(kr.key);
    if (f == routing.fast.end()) continue;
    for (const LimitRule* r : kr.rules) {
      Meter& m = meter_for(*f->second, kr.key, *r, kr.rules, now);
      ledger->replace(kr.key, r->id, place(*r, now).counted_start, peek(m, r->id).value_or(0));
    }
  }
  for (;;) {
    Decision d;
    d.outcome = decide(key_rules, req.amount, *ledger, now);
    d.on_meter.assign(d.outcome.checks.size(), false);
    if (!d.outcome.granted) return d;
    bool all_reserved = true;
    for (std::size_t i = 0; i < d.outcome.checks.size() && all_reserved; ++i) {
      LimitCheck& c = d.outcome.checks[i];
      auto f = routing.fast.find(c.key);
      if (f == routing.fast.end()) continue;
      for (;;) {
        Meter& m = meter_for(*f->second, c.key, *c.rule, book.rules(c.key), now);
        std::size_t held = 0;
        const Reservation r =
            reserve_units(*f->second, m, *c.rule, c.counted_start, req.amount, &held);
        if (r.result == Reservation::Result::kReserved) {
          c.counted_start = r.window_start;
          d.on_meter[i] = true;
          d.held.push_back(held);
          break;
        }
        if (r.result == Reservation::Result::kNoRoom) {
          // Another session took the units between our look and our
          // reservation: decide again with what the meter says.
          ledger->replace(c.key, c.rule->id, place(*c.rule, now).counted_start, r.used);
          all_reserved = false;
          break;
        }
        if (r.result == Reservation::Result::kAhead) throw DecisionTimeBehind{r.window_start};
        // kNeedsRoll / kRetry: meter_for moves or finds it again.
      }
    }
    if (all_reserved) return d;
    release_units(d.held);
  }
}

Routing route(const RuleBook& book, Timestamp now) {
  Routing routing;
  RulesOf rules;
  for (const std::string& key : book.limited_keys()) rules[key] = book.rules(key);
  route_keys(rules, now, &routing.fast, &routing.slow);
  return routing;
}

// 'slow' when any limited key took the slow path or none has limits;
// 'fast' when every limited key was decided from its meters.
const char* path_of(const Request& req, const RuleBook& book, const Routing& routing) {
  bool any_fast = false;
  for (const std::string& k : req.keys) {
    if (book.rules(k).empty()) continue;
    if (!routing.is_fast(k)) return "slow";
    any_fast = true;
  }
  return any_fast ? "fast" : "slow";
}

// The batch decided at `now`. Throws DecisionTimeBehind before writing
// anything when a fast key's meter has moved past now's window.
std::vector<ItemResult> redeem_batch_at(const std::vector<BatchItem>& items, bool raise_conflicts,
                                        Timestamp now) {
  std::vector<ItemResult> results(items.size());

  std::set<std::string> keys;
  for (const BatchItem& item : items)
    if (item.request) keys.insert(item.request->keys.begin(), item.request->keys.end());
  const RuleBook book(keys, now);
  const Routing routing = route(book, now);
  lock_entities(routing.slow, now);
  UsageLedger ledger = book.load_usage(now, routing.slow);
  // In a batch, a txn granted before is a replay from the start: deciding
  // it as new would count its units for the items after it. (A single
  // request needs no look-up first: a grant that turns out to be a replay
  // gives its units back before anything else is decided.)
  std::map<Uuid, GrantedTxn> stored_before;
  if (items.size() > 1) {
    std::vector<Uuid> txns;
    for (const BatchItem& item : items)
      if (item.request) txns.push_back(item.request->txn);
    stored_before = load_granted(txns);
  }

  std::map<Uuid, std::size_t> granted_here;  // txn -> index into grants
  std::vector<PendingGrant> grants;
  std::vector<std::size_t> denied_items;
  std::map<std::size_t, Outcome> denial_of;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const BatchItem& item = items[i];
    if (!item.request) {
      results[i].error = item.error;
      continue;
    }
    const Request& req = *item.request;
    if (auto it = granted_here.find(req.txn); it != granted_here.end()) {
      const PendingGrant& first = grants[it->second];
      const Request& first_req = *items[first.item].request;
      GrantedTxn stored{sorted_keys(first_req.keys), first_req.amount, first.path, "", false};
      results[i] = replay_of(req, sorted_keys(req.keys), stored, raise_conflicts);
      continue;
    }
    if (auto it = stored_before.find(req.txn); it != stored_before.end()) {
      results[i] = replay_of(req, sorted_keys(req.keys), it->second, raise_conflicts);
      continue;
    }
    Decision d = decide_request(req, book, routing, &ledger, now);
    const char* path = path_of(req, book, routing);
    results[i].path = path;
    if (!d.outcome.granted) {
      denied_items.push_back(i);
      denial_of[i] = std::move(d.outcome);
      continue;
    }
    results[i].granted = true;
    // Slow keys' usage goes to the ledger so later items see it; fast
    // keys' is in their meters already.
    for (std::size_t c = 0; c < d.outcome.checks.size(); ++c) {
      const LimitCheck& check = d.outcome.checks[c];
      if (!d.on_meter[c]) ledger.add(check.key, check.rule->id, check.counted_start, req.amount);
    }
    granted_here[req.txn] = grants.size();
    grants.push_back({i, std::move(d.outcome), std::move(d.on_meter), std::move(d.held), path});
  }

  // A denied txn may have been granted before (or by a session we waited
  // for): then the answer is its replay, not a denial.
  std::vector<Uuid> denied_txns;
  for (std::size_t i : denied_items) denied_txns.push_back(items[i].request->txn);
  const std::map<Uuid, GrantedTxn> earlier = load_granted(denied_txns);
  std::vector<NewEvent> denials;
  std::uint64_t denied = 0;
  for (std::size_t i : denied_items) {
    const Request& req = *items[i].request;
    if (auto it = earlier.find(req.txn); it != earlier.end()) {
      results[i] = replay_of(req, sorted_keys(req.keys), it->second, raise_conflicts);
      continue;
    }
    const Outcome& o = denial_of[i];
    results[i].denied_keys = o.denied_keys;
    results[i].retry_after = o.retry_after;
    ++denied;
    if (log_denials())
      denials.push_back({req.txn, now, "deny", req.keys, req.amount, results[i].path, deny_detail(o)});
  }

  // Grants: the unique index on granted txns decides. A txn that is
  // already there (granted before, or by a session that committed while
  // we decided) becomes a replay, and what this item reserved or counted
  // is given back before anything is written for it.
  std::vector<NewGrant> grant_events;
  for (const PendingGrant& g : grants) {
    const Request& req = *items[g.item].request;
    grant_events.push_back({req.txn, now, req.keys, req.amount, g.path, grant_detail(g)});
  }
  // Every writer of grants registers, not only the fast path's: the fold
  // also reads slow-path grants (for the keys' rates), and must not pass
  // over one still in flight.
  if (!grant_events.empty()) register_fold_writer();
  const std::map<Uuid, std::int64_t> inserted = insert_grants(grant_events);

  std::map<std::tuple<std::string, std::int64_t, Timestamp>, std::int64_t> deltas;
  std::vector<Uuid> lost;
  std::int64_t max_seq = 0;
  std::uint64_t fast_grants = 0;
  for (const PendingGrant& g : grants) {
    const Request& req = *items[g.item].request;
    auto in = inserted.find(req.txn);
    if (in == inserted.end()) {
      release_units(g.held);
      lost.push_back(req.txn);
      continue;
    }
    max_seq = std::max(max_seq, in->second);
    for (std::size_t c = 0; c < g.outcome.checks.size(); ++c) {
      const LimitCheck& check = g.outcome.checks[c];
      if (!g.on_meter[c]) deltas[{check.key, check.rule->id, check.counted_start}] += req.amount;
    }
    for (const std::string& key : req.keys)
      if (auto f = routing.fast.find(key); f != routing.fast.end())
        note_slot_use(*f->second, in->second, now, req.amount);
    if (g.path == std::string("fast")) ++fast_grants;
  }
  if (max_seq) note_seq(max_seq);
  if (!lost.empty()) {
    const std::map<Uuid, GrantedTxn> winners = load_granted(lost);
    for (const PendingGrant& g : grants) {
      const Request& req = *items[g.item].request;
      auto w = winners.find(req.txn);
      if (w != winners.end())
        results[g.item] = replay_of(req, sorted_keys(req.keys), w->second, raise_conflicts);
    }
  }

  std::vector<CounterDelta> counter_rows;
  for (const auto& [where, units] : deltas)
    counter_rows.push_back({std::get<0>(where), std::get<1>(where), std::get<2>(where), units});
  add_counters(counter_rows);
  insert_events(denials);

  count(Stat::kGrantsFast, fast_grants);
  count(Stat::kGrantsSlow, grants.size() - lost.size() - fast_grants);
  count(Stat::kDenials, denied);
  return results;
}

}  // namespace

std::vector<ItemResult> redeem_batch(const std::vector<BatchItem>& items, bool raise_conflicts) {
  Timestamp now = decision_time();
  for (int attempt = 1;; ++attempt) {
    const std::size_t held_before = held_count();
    try {
      return redeem_batch_at(items, raise_conflicts, now);
    } catch (const DecisionTimeBehind& behind) {
      // Another session decided after our clock reading and moved a meter
      // to the next window. Decide again, now: the clock has passed that
      // window's start too. Row locks and stripes taken stay ours.
      release_units_since(held_before);
      const Timestamp later = decision_time();
      if (later < behind.meter_window || attempt >= 3)
        throw SqlError(ERRCODE_T_R_SERIALIZATION_FAILURE,
                       "the decision time " + format_timestamp(later) +
                           " is before the window a fast-path key is counting in (from " +
                           format_timestamp(behind.meter_window) + "); try again",
                       "Another session decided at a later time. This happens when the clock "
                       "moved backwards, or with allot.clock_override set to an earlier time.");
      now = later;
    }
  }
}

std::vector<KeyCheckRow> check_keys(const std::vector<std::string>& keys, std::int64_t amount) {
  const Timestamp now = decision_time();
  const std::set<std::string> key_set(keys.begin(), keys.end());
  const RuleBook book(key_set, now);
  UsageLedger ledger = book.load_usage(now, book.limited_keys());
  // Keys on the fast path: their meters are ahead of the counters.
  if (shared_state_available()) {
    for (const std::string& key : book.limited_keys()) {
      PinnedSlot slot = key_table().find(MyDatabaseId, key);
      if (!slot || slot->load_state() == KeyState::kSlow) continue;
      for (const LimitRule* r : book.rules(key)) {
        Meter* m = find_meter(*slot, r->id);
        const Timestamp ws = place(*r, now).counted_start;
        if (m && m->window_start.load() == ws)
          if (auto used = peek(*m, r->id)) ledger.replace(key, r->id, ws, *used);
      }
    }
  }
  std::vector<KeyCheckRow> out;
  for (const std::string& key : keys) {
    for (const LimitRule* rule : book.rules(key)) {
      const LimitCheck c = check_limit(key, *rule, amount, ledger, now);
      const bool enforced = rule->mode == Mode::kEnforce;
      KeyCheckRow row{key, rule->id, c.has_room || !enforced,
                      std::max<std::int64_t>(0, rule->max - c.used), std::nullopt};
      if (!c.has_room && enforced) row.retry_after = c.wait;
      out.push_back(std::move(row));
    }
  }
  return out;
}

bool reverse_txn(const Uuid& txn, const std::optional<std::string>& reason) {
  const std::optional<GrantedTxn> granted = find_grant_for_reversal(txn);
  if (!granted || granted->reversed) return false;
  const Timestamp now = decision_time();

  // The keys the grant counted, routed as a redemption would route them
  // now: a key on the fast path gets its units back on its meter (at
  // commit) and the rollup folds the reversal into the counters; a key on
  // the slow path is locked and its counters are corrected here.
  const nlohmann::json counted = nlohmann::json::parse(granted->counted_json);
  std::set<std::string> counted_keys;
  for (const auto& c : counted) counted_keys.insert(c.at(0).get<std::string>());
  const RuleBook book(counted_keys, now);
  RulesOf rules;
  for (const std::string& k : counted_keys) rules[k] = book.rules(k);
  // A key whose limits were dropped since still needs a route: give it a
  // rule list that is empty but present.
  Routing routing;
  {
    RulesOf limited;
    for (const auto& [k, r] : rules)
      if (!r.empty()) limited[k] = r;
    route_keys(limited, now, &routing.fast, &routing.slow);
    for (const auto& [k, r] : rules)
      if (r.empty()) routing.slow.push_back(k);
    std::sort(routing.slow.begin(), routing.slow.end());
  }
  lock_entities(routing.slow, now);

  nlohmann::json reversed = nlohmann::json::array();
  std::vector<CounterDelta> deltas;
  struct GiveBack {
    KeySlot* slot;
    Meter* meter;
    std::uint64_t generation;
  };
  std::vector<GiveBack> give_backs;
  for (const auto& c : counted) {
    const std::string key = c.at(0).get<std::string>();
    const std::int64_t limit_id = c.at(1).get<std::int64_t>();
    const std::string start_text = c.at(2).get<std::string>();
    nlohmann::json entry = {key, limit_id, start_text};
    auto f = routing.fast.find(key);
    if (f == routing.fast.end()) {
      deltas.push_back({key, limit_id, parse_timestamp(start_text.c_str()), granted->amount});
    } else {
      entry.push_back("f");
      const Timestamp start = parse_timestamp(start_text.c_str());
      if (Meter* m = find_meter(*f->second, limit_id))
        if (m->window_start.load() == start)
          give_backs.push_back({f->second.get(), m, m->generation.load()});
    }
    reversed.push_back(std::move(entry));
  }
  nlohmann::json detail = {{"counted", reversed}};
  if (reason) detail["reason"] = *reason;
  register_fold_writer();
  const std::optional<std::int64_t> seq = insert_reverse_event(
      {txn, now, "reverse", granted->sorted_keys, granted->amount, granted->path, detail.dump()});
  if (!seq) return false;  // reversed by a session we waited for
  note_seq(*seq);
  for (const GiveBack& g : give_backs) {
    give_back_on_commit(*g.slot, *g.meter, g.generation, granted->amount);
    note_slot_use(*g.slot, *seq, now);
  }
  for (auto& [key, slot] : routing.fast) note_slot_use(*slot, *seq, now);
  subtract_counters(deltas);
  count(Stat::kReversals);
  return true;
}

}  // namespace allot::pg
