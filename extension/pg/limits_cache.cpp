#include "limits_cache.hpp"

#include <unordered_map>

#include "guard.hpp"
#include "postgres.hpp"
#include "shared_state.hpp"
#include "store.hpp"

namespace allot::pg {
namespace {

// A table of at most this many limits (the usual case: class limits and a
// few exact-key ones) is cached whole: a scope absent from the cache then
// has no limits, and keys never seen before cost no query.
constexpr std::size_t kWholeTableLimits = 10000;
// Otherwise scopes are cached as they are asked for (an empty entry: no
// limits), and exact-key scopes are as many as the keys: past this bound
// the cache starts over.
constexpr std::size_t kMaxCachedScopes = 200000;

struct Cache {
  bool valid = false;
  bool whole_table = false;
  std::uint64_t generation = 0;
  Oid table = InvalidOid;
  std::unordered_map<std::string, std::vector<LimitRule>> by_scope;
};

Cache g_cache;
bool g_changed_in_transaction = false;

Oid limits_table() {
  return pg_call([] {
    const Oid schema = get_namespace_oid("allot", true);
    return OidIsValid(schema) ? get_relname_relid("limits", schema) : InvalidOid;
  });
}

void drop_cache() {
  g_cache.by_scope.clear();
  g_cache.valid = false;
  g_cache.whole_table = false;
}

void on_xact(XactEvent event, void*) {
  if (!g_changed_in_transaction) return;
  if (event == XACT_EVENT_COMMIT) {
    if (auto* gen = limits_generation()) gen->fetch_add(1);
  }
  if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT) {
    drop_cache();
    g_changed_in_transaction = false;
  }
}

}  // namespace

std::vector<LimitRule> limits_of(const std::vector<std::string>& scopes) {
  std::atomic<std::uint64_t>* gen = limits_generation();
  if (gen == nullptr || g_changed_in_transaction) return load_limits(scopes);

  // The generation first, the table's rows (a snapshot taken later) second.
  const std::uint64_t now_gen = gen->load();
  const Oid table = limits_table();
  if (!g_cache.valid || g_cache.generation != now_gen || g_cache.table != table ||
      g_cache.by_scope.size() > kMaxCachedScopes) {
    drop_cache();
    if (auto all = load_all_limits(kWholeTableLimits)) {
      for (LimitRule& r : *all) g_cache.by_scope[r.scope].push_back(std::move(r));
      g_cache.whole_table = true;
    }
    g_cache.generation = now_gen;
    g_cache.table = table;
    g_cache.valid = true;
  }
  std::vector<LimitRule> out;
  if (g_cache.whole_table) {
    for (const std::string& s : scopes)
      if (auto it = g_cache.by_scope.find(s); it != g_cache.by_scope.end())
        out.insert(out.end(), it->second.begin(), it->second.end());
    return out;
  }
  std::vector<std::string> missing;
  for (const std::string& s : scopes)
    if (g_cache.by_scope.find(s) == g_cache.by_scope.end()) missing.push_back(s);
  if (!missing.empty()) {
    std::vector<LimitRule> loaded = load_limits(missing);
    std::unordered_map<std::string, std::vector<LimitRule>> fresh;
    for (const std::string& s : missing) fresh[s];
    for (LimitRule& r : loaded) fresh[r.scope].push_back(std::move(r));
    for (auto& [scope, rules] : fresh) g_cache.by_scope[scope] = std::move(rules);
  }
  for (const std::string& s : scopes) {
    const std::vector<LimitRule>& rules = g_cache.by_scope.at(s);
    out.insert(out.end(), rules.begin(), rules.end());
  }
  return out;
}

void register_limits_cache_callbacks() { RegisterXactCallback(on_xact, nullptr); }

}  // namespace allot::pg

extern "C" {

// Statement trigger on allot.limits: this transaction changed limits.
PG_FUNCTION_INFO_V1(allot_limits_changed);
Datum allot_limits_changed(PG_FUNCTION_ARGS) {
  if (!CALLED_AS_TRIGGER(fcinfo))
    ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                    errmsg("allot._limits_changed() must be called as a trigger")));
  allot::pg::g_changed_in_transaction = true;
  allot::pg::drop_cache();
  return PointerGetDatum(nullptr);
}

}  // extern "C"
