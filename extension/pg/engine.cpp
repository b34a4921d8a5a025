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
#include "guard.hpp"
#include "settings.hpp"
#include "stats.hpp"
#include "store.hpp"

namespace allot::pg {
namespace {

constexpr const char* kSlowPath = "slow";

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
    if (!keys.empty()) limits_ = load_limits(scopes, now);
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
  UsageLedger load_usage(Timestamp now) const {
    std::vector<CounterSpan> spans;
    for (const auto& [key, rules] : rules_)
      for (const LimitRule* r : rules) spans.push_back({key, r->id, place(*r, now).check_span});
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

nlohmann::json counted_json(const Outcome& o) {
  nlohmann::json counted = nlohmann::json::array();
  for (const LimitCheck& c : o.checks)
    counted.push_back({c.key, c.rule->id, format_timestamp(c.counted_start)});
  return counted;
}

nlohmann::json shadow_json(const Outcome& o) {
  nlohmann::json shadow = nlohmann::json::array();
  for (const LimitCheck& c : o.checks)
    if (!c.has_room && c.rule->mode == Mode::kShadow) shadow.push_back(limit_json(c));
  return shadow;
}

std::string grant_detail(const Outcome& o, const nlohmann::json& counted) {
  nlohmann::json d = {{"counted", counted}};
  nlohmann::json shadow = shadow_json(o);
  if (!shadow.empty()) d["shadow_denied"] = shadow;
  return d.dump();
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
                     const std::vector<std::string>& stored_keys, std::int64_t stored_amount,
                     const std::string& stored_path, bool raise_conflicts) {
  ItemResult r;
  if (sorted != stored_keys || req.amount != stored_amount) {
    const std::string msg =
        "txn " + format_uuid(req.txn) + " was already granted with different keys or amount";
    if (raise_conflicts)
      throw SqlError(ERRCODE_UNIQUE_VIOLATION, msg,
                     "granted: keys " + array_literal(stored_keys) + ", amount " +
                         std::to_string(stored_amount));
    r.error = msg;
    return r;
  }
  r.granted = true;
  r.replayed = true;
  r.path = stored_path;
  count(Stat::kReplays);
  return r;
}

// What one granted item wrote, so a lost txn race can be undone in memory.
struct PendingGrant {
  std::size_t item;
  Outcome outcome;
  NewTxn txn;
  std::string detail;
};

}  // namespace

std::vector<ItemResult> redeem_batch(const std::vector<BatchItem>& items, bool raise_conflicts) {
  const Timestamp now = decision_time();
  std::vector<ItemResult> results(items.size());

  std::vector<Uuid> txns;
  std::set<std::string> keys;
  for (const BatchItem& item : items) {
    if (!item.request) continue;
    txns.push_back(item.request->txn);
    keys.insert(item.request->keys.begin(), item.request->keys.end());
  }
  const RuleBook book(keys, now);
  lock_entities(book.limited_keys(), now);
  // Look up granted txns only once the locks are held: a session that
  // waited behind a concurrent redemption of the same txn must see that
  // grant (and replay it), not the usage it left behind (and deny).
  const std::map<Uuid, GrantedTxn> stored = load_granted(txns);
  UsageLedger ledger = book.load_usage(now);

  std::map<Uuid, std::size_t> granted_here;  // txn -> index into grants
  std::vector<PendingGrant> grants;
  std::vector<NewEvent> denials;  // audit events (only while log_denials is on)
  std::uint64_t denied = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const BatchItem& item = items[i];
    if (!item.request) {
      results[i].error = item.error;
      continue;
    }
    const Request& req = *item.request;
    const std::vector<std::string> sorted = sorted_keys(req.keys);
    if (auto it = stored.find(req.txn); it != stored.end()) {
      results[i] = replay_of(req, sorted, it->second.sorted_keys, it->second.amount,
                             it->second.path, raise_conflicts);
      continue;
    }
    if (auto it = granted_here.find(req.txn); it != granted_here.end()) {
      const NewTxn& first = grants[it->second].txn;
      results[i] =
          replay_of(req, sorted, first.sorted_keys, first.amount, first.path, raise_conflicts);
      continue;
    }
    Outcome outcome = decide(book.for_request(req.keys), req.amount, ledger, now);
    ItemResult& r = results[i];
    r.path = kSlowPath;
    if (!outcome.granted) {
      r.denied_keys = outcome.denied_keys;
      r.retry_after = outcome.retry_after;
      ++denied;
      if (log_denials())
        denials.push_back(
            {req.txn, now, "deny", req.keys, req.amount, kSlowPath, deny_detail(outcome)});
      continue;
    }
    r.granted = true;
    count_grant(outcome, req.amount, &ledger);
    const nlohmann::json counted = counted_json(outcome);
    granted_here[req.txn] = grants.size();
    grants.push_back({i,
                      outcome,
                      {req.txn, sorted, req.amount, kSlowPath, now, counted.dump()},
                      grant_detail(outcome, counted)});
  }

  // The txn row is written first: if another session granted the same txn
  // and committed while we waited for locks, our insert finds its row and
  // this item becomes a replay — before any counter is touched. (Usage this
  // item added to the in-memory ledger may have made a later item of the
  // batch be denied: a denial is always safe, and can be retried.)
  std::vector<NewTxn> new_txns;
  for (const PendingGrant& g : grants) new_txns.push_back(g.txn);
  const std::set<Uuid> inserted = insert_txns(new_txns);

  std::map<std::tuple<std::string, std::int64_t, Timestamp>, std::int64_t> deltas;
  std::vector<NewEvent> events;
  std::vector<Uuid> lost;
  for (const PendingGrant& g : grants) {
    if (!inserted.count(g.txn.txn)) {
      lost.push_back(g.txn.txn);
      continue;
    }
    for (const LimitCheck& c : g.outcome.checks)
      deltas[{c.key, c.rule->id, c.counted_start}] += g.txn.amount;
    events.push_back(
        {g.txn.txn, now, "grant", items[g.item].request->keys, g.txn.amount, kSlowPath, g.detail});
  }
  if (!lost.empty()) {
    const std::map<Uuid, GrantedTxn> winners = load_granted(lost);
    for (const PendingGrant& g : grants) {
      auto w = winners.find(g.txn.txn);
      if (w == winners.end()) continue;
      const Request& req = *items[g.item].request;
      results[g.item] = replay_of(req, g.txn.sorted_keys, w->second.sorted_keys, w->second.amount,
                                  w->second.path, raise_conflicts);
    }
  }

  std::vector<CounterDelta> counter_rows;
  for (const auto& [where, units] : deltas)
    counter_rows.push_back({std::get<0>(where), std::get<1>(where), std::get<2>(where), units});
  add_counters(counter_rows);
  events.insert(events.end(), denials.begin(), denials.end());
  insert_events(events);

  count(Stat::kGrantsSlow, grants.size() - lost.size());
  count(Stat::kDenials, denied);
  return results;
}

std::vector<KeyCheckRow> check_keys(const std::vector<std::string>& keys, std::int64_t amount) {
  const Timestamp now = decision_time();
  const std::set<std::string> key_set(keys.begin(), keys.end());
  const RuleBook book(key_set, now);
  const UsageLedger ledger = book.load_usage(now);
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
  const std::optional<GrantedTxn> granted = lock_txn_for_reversal(txn);
  if (!granted || granted->reversed) return false;
  const Timestamp now = decision_time();

  // Lock the limited keys of the grant (the keys its counted windows name),
  // in the same global order redeem uses.
  const nlohmann::json counted = nlohmann::json::parse(granted->counted_json);
  std::set<std::string> limited;
  for (const auto& c : counted) limited.insert(c.at(0).get<std::string>());
  lock_entities(std::vector<std::string>(limited.begin(), limited.end()), now);

  std::vector<CounterDelta> deltas;
  for (const auto& c : counted) {
    const Timestamp start = parse_timestamp(c.at(2).get<std::string>().c_str());
    deltas.push_back(
        {c.at(0).get<std::string>(), c.at(1).get<std::int64_t>(), start, granted->amount});
  }
  subtract_counters(deltas);
  mark_reversed(txn, now, reason);
  nlohmann::json detail = {{"counted", counted}};
  if (reason) detail["reason"] = *reason;
  insert_events(
      {{txn, now, "reverse", granted->sorted_keys, granted->amount, granted->path, detail.dump()}});
  count(Stat::kReversals);
  return true;
}

}  // namespace allot::pg
