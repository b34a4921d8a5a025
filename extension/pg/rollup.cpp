#include "rollup.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "../core/key.hpp"
#include "../core/path_policy.hpp"
#include "convert.hpp"
#include "fast_path.hpp"
#include "fold.hpp"
#include "guard.hpp"
#include "path_change.hpp"
#include "postgres.hpp"
#include "settings.hpp"
#include "shared_state.hpp"
#include "spi.hpp"
#include "stats.hpp"

// Folding is sound although sequence order is not commit order:
//
//   The fold reads M = max_seq_seen, then every backend's registration,
//   then takes its snapshot, and folds the events with last_seq < seq <=
//   upto, upto = min(M, lowest registration - 1). A registration is the
//   lowest seq its writer may hold: max_seq_seen + 1 when it registered.
//   Take an event e with seq <= upto that the snapshot does not see,
//   written by transaction T still in flight. T registered before taking
//   e's seq. If T registered before we read the registrations, upto is
//   below its registration, which is <= e.seq: upto < e.seq:
//   contradiction. If T registered after,
//   e.seq was handed out after we read M, and M only holds seqs handed out
//   before: e.seq > M >= upto: contradiction. So every event at or below
//   upto that the snapshot misses rolled back, and none is ever skipped.
//   Slow-path writers register too: their counters were written with
//   their events, but the fold reads their grants for the keys' rates.

namespace allot::pg {
namespace {

struct FoldState {
  std::int64_t last_seq;
  double seconds_since_last;
};

FoldState lock_rollup_state() {
  static Statement stmt(
      "SELECT last_seq, "
      "       greatest(extract(epoch FROM pg_catalog.clock_timestamp() - last_at)::float8, 0.001) "
      "FROM allot.rollup_state FOR UPDATE",
      {});
  Rows rows = execute(stmt, {});
  if (rows.size() != 1) throw std::runtime_error("allot.rollup_state must hold exactly one row");
  return {rows.get_int64(0, 1), rows.get_double(0, 2)};
}

// Takes the rollup_state row lock unless another transaction holds it (a
// fold in flight: the first redemption after a restart folds in its own
// transaction, and allot.set_path folds too).
bool try_lock_rollup_state() {
  static Statement stmt("SELECT 1 FROM allot.rollup_state FOR UPDATE SKIP LOCKED", {});
  return execute(stmt, {}).size() == 1;
}

// Whether the key's durable row is free to write now: absent, or locked
// by this transaction (the lock is taken here), not by a slow-path
// redemption in flight.
bool try_lock_entity_row(const std::string& key) {
  static Statement present("SELECT 1 FROM allot.entity_state WHERE key = $1", {TEXTOID});
  static Statement lock("SELECT 1 FROM allot.entity_state WHERE key = $1 FOR UPDATE SKIP LOCKED",
                        {TEXTOID});
  if (execute(lock, {string_to_text(key)}).size() == 1) return true;
  return execute(present, {string_to_text(key)}).size() == 0;
}

std::int64_t max_visible_seq() {
  static Statement stmt("SELECT coalesce(pg_catalog.max(seq), 0) FROM allot.events", {});
  return execute(stmt, {}, Snap::kAfterLocks).get_int64(0, 1);
}

void save_rollup_state(std::int64_t last_seq, bool unfolded_possible) {
  static Statement stmt(
      "UPDATE allot.rollup_state SET last_seq = $1, last_at = pg_catalog.clock_timestamp(), "
      "       rollups = rollups + 1, unfolded_possible = $2",
      {INT8OID, BOOLOID});
  execute(stmt, {Int64GetDatum(last_seq), BoolGetDatum(unfolded_possible)});
}

// Whether allot.key_activity keeps rates as of rate_at (schema 0.4 on). A
// database still at 0.3 or 0.2 (the library was updated, ALTER EXTENSION
// UPDATE not run yet) keeps being rolled up the way its schema says.
bool rates_kept_as_of() {
  static Statement stmt(
      "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a "
      "  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
      "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
      " WHERE n.nspname = 'allot' AND c.relname = 'key_activity' AND a.attname = 'rate_at' "
      "   AND NOT a.attisdropped)",
      {});
  return execute(stmt, {}).get_bool(0, 1);
}

// The keys, units and last grants of a fold as the statements' $1..$3.
struct KeyUnitArrays {
  Datum keys, units, last;
  explicit KeyUnitArrays(const Folded& f) {
    std::vector<std::string> k;
    std::vector<double> u;
    std::vector<Timestamp> l;
    for (const auto& [key, ku] : f.by_key) {
      k.push_back(key);
      u.push_back(ku.units);
      l.push_back(ku.last_at);
    }
    keys = strings_to_text_array(k);
    units = float8_array(u);
    last = timestamp_array(l);
  }
};

// Rates and last grant of keys with a durable row (slow-path keys; fast
// keys keep theirs in shared memory). Written to allot.key_activity, which
// only the rollup writes: it never waits for a redemption's row lock. A
// rate is stored as of rate_at and decays when read (allot.entities), so
// only the keys granted since the last rollup are written: the stored rate
// decayed to now, plus this interval's units/dt weighted by (1 - decay) --
// the same moving average as decaying every row on every rollup.
std::int64_t update_key_activity(const Folded& f, double decay, double dt, double tau) {
  static Statement stmt(
      "WITH upd AS ("
      "  INSERT INTO allot.key_activity AS a (key, rate, last_seen, rate_at) "
      "  SELECT u.key, u.units / $5 * (1 - $4), u.last_at, pg_catalog.clock_timestamp() "
      // Driven by the keys (see kCountersOfSpans in store.cpp): as an
      // EXISTS, a plan made while allot.entity_state looked empty read the
      // whole table against every key, and a worker behind by 50,000 keys
      // spent minutes in one rollup.
      "    FROM unnest($1::text[], $2::float8[], $3::timestamptz[]) AS u(key, units, last_at) "
      "   CROSS JOIN LATERAL (SELECT 1 FROM allot.entity_state en WHERE en.key = u.key "
      "                       OFFSET 0) en "
      "  ON CONFLICT (key) DO UPDATE SET "
      "    rate = a.rate * pg_catalog.exp(-greatest(pg_catalog.date_part('epoch', "
      "             EXCLUDED.rate_at - a.rate_at), 0) / $6) + EXCLUDED.rate, "
      "    last_seen = greatest(a.last_seen, EXCLUDED.last_seen), rate_at = EXCLUDED.rate_at "
      "  RETURNING 1) "
      "SELECT pg_catalog.count(*) FROM upd",
      {TEXTARRAYOID, FLOAT8ARRAYOID, TIMESTAMPTZARRAYOID, FLOAT8OID, FLOAT8OID, FLOAT8OID});
  // Schema 0.3 and before: every rate is decayed and written every time.
  static Statement decay_all(
      "WITH fresh AS (SELECT * FROM unnest($1::text[], $2::float8[], $3::timestamptz[]) "
      "               AS u(key, units, last_at)), "
      "target AS (SELECT coalesce(f.key, a.key) AS key, coalesce(f.units, 0) AS units, "
      "                  f.last_at, coalesce(a.rate, 0) AS rate, a.last_seen "
      "             FROM fresh f FULL JOIN allot.key_activity a ON a.key = f.key "
      "            WHERE a.rate > 0 OR (f.key IS NOT NULL AND EXISTS "
      "                  (SELECT 1 FROM allot.entity_state en WHERE en.key = f.key))), "
      "upd AS (INSERT INTO allot.key_activity AS a (key, rate, last_seen) "
      "        SELECT t.key, CASE WHEN t.units = 0 AND t.rate * $4 < 1e-6 THEN 0 "
      "                           ELSE t.rate * $4 + (t.units / $5) * (1 - $4) END, "
      "               greatest(t.last_seen, t.last_at) FROM target t "
      "        ON CONFLICT (key) DO UPDATE SET rate = EXCLUDED.rate, last_seen = EXCLUDED.last_seen "
      "        RETURNING 1) "
      "SELECT pg_catalog.count(*) FROM upd",
      {TEXTARRAYOID, FLOAT8ARRAYOID, TIMESTAMPTZARRAYOID, FLOAT8OID, FLOAT8OID},
      Planning::kPlannersChoice);
  const bool kept_as_of = rates_kept_as_of();
  if (kept_as_of && f.by_key.empty()) return 0;  // nothing granted: nothing to write
  const KeyUnitArrays a(f);
  if (!kept_as_of)
    return execute(decay_all, {a.keys, a.units, a.last, Float8GetDatum(decay), Float8GetDatum(dt)})
        .get_int64(0, 1);
  return execute(stmt, {a.keys, a.units, a.last, Float8GetDatum(decay), Float8GetDatum(dt),
                        Float8GetDatum(tau)})
      .get_int64(0, 1);
}

struct LimitInfo {
  std::int64_t max;
  bool enforce;
};

std::map<std::int64_t, LimitInfo> load_limit_maxima() {
  static Statement stmt("SELECT id, max, mode = 'enforce' FROM allot.limits", {});
  Rows rows = execute(stmt, {});
  std::map<std::int64_t, LimitInfo> out;
  for (std::uint64_t i = 0; i < rows.size(); ++i)
    out[rows.get_int64(i, 1)] = {rows.get_int64(i, 2), rows.get_bool(i, 3)};
  return out;
}

// Smallest headroom of a slow key's enforced limits, from the counters
// (exact for a slow key), in its current windows.
std::int64_t slow_key_headroom(const std::string& key) {
  static Statement stmt(
      "SELECT pg_catalog.min(l.max - coalesce((SELECT pg_catalog.sum(c.used) FROM allot.counters c "
      "   WHERE c.key = $1 AND c.limit_id = l.id AND c.window_start >= w.rows_from "
      "     AND c.window_start < w.rows_to), 0))::bigint "
      "FROM allot.limits l CROSS JOIN LATERAL allot._current_window(l.per, l.sliding, l.valid, "
      "     allot._now()) w "
      "WHERE l.mode = 'enforce' AND l.valid @> allot._now() "
      "  AND l.scope IN ($1, $2)",
      {TEXTOID, TEXTOID});
  Rows rows = execute(stmt, {string_to_text(key), string_to_text(key_class(key))});
  if (rows.size() == 0 || rows.is_null(0, 1)) return INT64_MAX;
  return rows.get_int64(0, 1);
}

// The fold proper, under the rollup_state lock. Returns what it folded.
struct FoldResult {
  std::int64_t before;
  std::int64_t upto;
  Folded folded;
  double dt;
};

FoldResult fold_locked() {
  const FoldState st = lock_rollup_state();
  std::int64_t upto;
  DatabaseState* d = shared_state_available() ? my_database() : nullptr;
  if (d && d->folded.load()) {
    upto = fold_horizon(*d);
  } else {
    // No fast-path writer can be in flight: before the first fold after a
    // start nothing is decided on the fast path (fast_path_ready), and
    // without the preload there is no fast path.
    upto = max_visible_seq();
    if (d) note_seq(upto);
  }
  FoldResult r{st.last_seq, std::max(upto, st.last_seq), {}, st.seconds_since_last};
  r.folded = fold_range(st.last_seq, r.upto);
  save_rollup_state(r.upto, shared_state_available());
  return r;
}

}  // namespace

std::int64_t fold_now() { return fold_locked().upto; }

void fold_leftovers_once() {
  static bool checked = false;
  if (checked) return;
  static Statement stmt("SELECT unfolded_possible FROM allot.rollup_state", {});
  Rows rows = execute(stmt, {}, Snap::kAfterLocks);
  if (rows.size() == 1 && rows.get_bool(0, 1)) {
    fold_locked();
    return;  // look again next time: this fold commits with the caller
  }
  checked = true;
}

namespace {

constexpr Timestamp kKeyScanEvery = 1000 * 1000;  // µs
constexpr double kNegligibleRate = 1e-6;           // units/s: kept as 0

RollupResult finish(const RollupResult& result) {
  count(Stat::kPromotions, static_cast<std::uint64_t>(result.promoted));
  count(Stat::kDemotions, static_cast<std::uint64_t>(result.demoted));
  count(Stat::kRollups);
  return result;
}

}  // namespace

RollupResult run_rollup(LockWaits waits) {
  RollupResult result;
  const double tau = 10.0;  // seconds: time constant of the recent rate
  // Held from here to the end of the transaction: fast_path_ready() and
  // the fold below then find it ours and never wait.
  if (waits == LockWaits::kSkipIfBusy && !try_lock_rollup_state()) return result;
  const bool shared = fast_path_ready(FirstFold::kHere);

  // Keys to move to the slow path are closed and drained before the fold,
  // so that the fold covers all their grants.
  std::vector<KeySlot*> closing;
  std::map<std::int64_t, LimitInfo> limits;
  const Timestamp now = decision_time();
  const auto hold = static_cast<Timestamp>(path_hold_seconds() * 1e6);
  // The key table (64k slots by default) is read when a fast grant came
  // since the last read, when the fold finds grants (keys marked slow get
  // their rate from it), and once a second anyway (idle keys retire, slow
  // markers come back, a lowered limit moves a key). Reading it on every
  // rollup cost an idle server 7% of a core.
  DatabaseState* const d = shared ? my_database() : nullptr;
  const bool granted_fast = d && d->keys_granted.exchange(0) != 0;
  const Timestamp last_scan = d ? d->last_key_scan.load() : 0;
  const bool scan_due = last_scan == 0 || now < last_scan || now - last_scan >= kKeyScanEvery;
  if (shared && (granted_fast || scan_due)) {
    limits = load_limit_maxima();
    key_table().for_each([&](KeySlot& s) {
      if (s.db != MyDatabaseId || s.load_state() != KeyState::kFast) return;
      if (!rate_can_go_slow(s.rate(), slow_below_seconds())) return;  // meters unread
      if (now - s.state_since.load() < hold) return;
      std::int64_t headroom = INT64_MAX;
      for (Meter& m : s.meters) {
        const std::int64_t id = m.limit_id.load();
        auto l = limits.find(id);
        if (id == 0 || l == limits.end() || !l->second.enforce) continue;
        headroom = std::min(headroom, l->second.max - m.used.load());
      }
      if (headroom == INT64_MAX || !should_go_slow(headroom, s.rate(), slow_below_seconds())) return;
      closing.reserve(closing.size() + 1);
      if (close_slot(s)) closing.push_back(&s);
    });
    // An error from here on rolls us back, which reopens them.
    for (KeySlot*& s : closing)
      if (!wait_drained(*s, std::chrono::milliseconds(50))) {
        reopen(*s);
        s = nullptr;
      }
  }

  const FoldResult f = fold_locked();
  result.events = f.folded.events;
  result.folded_upto = f.upto;
  const double decay = std::exp(-f.dt / tau);
  result.keys = update_key_activity(f.folded, decay, f.dt, tau);

  if (!shared) return result;
  for (KeySlot* s : closing) {
    if (!s) continue;
    if (s->max_event_seq.load() > f.upto) {  // a grant the fold could not reach yet
      reopen(*s);
      continue;
    }
    finish_demotion(*s);
    ++result.promoted;
  }
  if (!granted_fast && !scan_due && f.folded.events == 0) return finish(result);
  // Rates move by the time since the last read of the table.
  const double scan_dt = last_scan > 0 && now > last_scan ? (now - last_scan) / 1e6 : f.dt;
  const double scan_decay = std::exp(-scan_dt / tau);
  d->last_key_scan.store(now);
  const auto idle = static_cast<Timestamp>(idle_key_seconds() * 1e6);
  std::vector<KeySlot*> markers;
  key_table().for_each_with_fill([&](KeySlot& s, int bucket_fill) {
    if (s.db != MyDatabaseId) return;
    const KeyState state = s.load_state();
    // Fast keys count their units in the slot; a key marked slow is
    // granted on the slow path, whose grants the fold read. Slots with
    // nothing to change are only read (no write to their cache lines).
    double units = 0;
    if (s.units_since_rollup.load(std::memory_order_relaxed) != 0)
      units = static_cast<double>(s.units_since_rollup.exchange(0));
    if (state == KeyState::kSlow)
      if (auto fresh = f.folded.by_key.find(std::string(s.key_view()));
          fresh != f.folded.by_key.end())
        units += fresh->second.units;
    if (units > 0 || s.rate() > 0) {
      const double rate = s.rate() * scan_decay + (units / scan_dt) * (1 - scan_decay);
      s.set_rate(rate < kNegligibleRate ? 0 : rate);
    }
    const bool idle_now = now - s.last_used.load() > idle;
    // An idle fast key keeps its slot while its bucket has room: giving it
    // back would only make its next redemption load it again. Once the
    // bucket is more than half full, idle keys make room, as soon as the
    // counters (as committed before this rollup) hold all their grants.
    const bool make_room = bucket_fill > kSlotsPerBucket / 2;
    if (state == KeyState::kFast && idle_now && make_room && s.max_event_seq.load() <= f.before)
      KeyTable::retire(&s, KeyState::kFast, f.before);
    else if (state == KeyState::kSlow && idle_now)
      KeyTable::retire(&s, KeyState::kSlow);
    else if (state == KeyState::kSlow && now - s.state_since.load() >= hold)
      markers.push_back(&s);
  });
  for (KeySlot* s : markers) {
    // Moved by this transaction already (allot.set_path, then rollup()).
    if (pending_state_change(*s)) continue;
    const std::string key(s->key_view());
    if (!should_go_fast(slow_key_headroom(key), s->rate(), fast_above_seconds())) continue;
    // A slow-path redemption of the key in flight holds its row: the key
    // is busy anyway, so it stays slow for now.
    if (waits == LockWaits::kSkipIfBusy && !try_lock_entity_row(key)) continue;
    write_durable_path(key, "fast");
    change_state_at_commit(*s, KeyState::kEmpty, KeyState::kSlow);
    ++result.demoted;
  }
  return finish(result);
}

}  // namespace allot::pg
