#include "store.hpp"

#include "convert.hpp"
#include "guard.hpp"
#include "spi.hpp"
#include "../core/request.hpp"

namespace allot::pg {
namespace {

std::vector<std::string> stored_text_array(const Rows& rows, std::uint64_t row, int column) {
  return text_array_to_strings(rows.datum(row, column), "stored keys");
}

// A grant read by the statements below, whose columns are: txn, keys,
// amount, path, counted (text), reversed.
GrantedTxn granted_from_row(const Rows& rows, std::uint64_t row) {
  GrantedTxn g;
  g.sorted_keys = sorted_keys(stored_text_array(rows, row, 2));
  g.amount = rows.get_int64(row, 3);
  g.path = rows.get_text(row, 4);
  g.counted_json = rows.get_text(row, 5);
  g.reversed = rows.get_bool(row, 6);
  return g;
}

}  // namespace

std::map<Uuid, GrantedTxn> load_granted(const std::vector<Uuid>& txns) {
  static Statement stmt(
      "SELECT g.txn, g.keys, g.amount, g.path, (g.detail->'counted')::text, "
      "       EXISTS (SELECT 1 FROM allot.events r WHERE r.txn = g.txn AND r.kind = 'reverse') "
      "FROM allot.events g WHERE g.kind = 'grant' AND g.txn = ANY($1)",
      {UUIDARRAYOID});
  std::map<Uuid, GrantedTxn> out;
  if (txns.empty()) return out;
  Rows rows = execute(stmt, {uuid_array(txns)}, Snap::kAfterLocks);
  for (std::uint64_t i = 0; i < rows.size(); ++i)
    out.emplace(datum_to_uuid(rows.datum(i, 1)), granted_from_row(rows, i));
  return out;
}

std::map<std::string, std::string> load_entity_paths(const std::vector<std::string>& keys) {
  static Statement stmt("SELECT key, path FROM allot.entity_state WHERE key = ANY($1)",
                        {TEXTARRAYOID});
  std::map<std::string, std::string> out;
  if (keys.empty()) return out;
  Rows rows = execute(stmt, {strings_to_text_array(keys)}, Snap::kAfterLocks);
  for (std::uint64_t i = 0; i < rows.size(); ++i) out[rows.get_text(i, 1)] = rows.get_text(i, 2);
  return out;
}

namespace {

std::vector<LimitRule> limit_rows(const Rows& rows) {
  std::vector<LimitRule> out;
  out.reserve(rows.size());
  for (std::uint64_t i = 0; i < rows.size(); ++i) {
    LimitRule r;
    r.id = rows.get_int64(i, 1);
    r.scope = rows.get_text(i, 2);
    r.max = rows.get_int64(i, 3);
    if (!rows.is_null(i, 4)) r.per = datum_to_interval(rows.datum(i, 4));
    r.sliding = rows.get_bool(i, 5);
    r.valid = datum_to_valid_range(rows.datum(i, 6));
    r.mode = parse_mode(rows.get_text(i, 7));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

std::vector<LimitRule> load_limits(const std::vector<std::string>& scopes) {
  static Statement stmt(
      "SELECT id, scope, max, per, sliding, valid, mode FROM allot.limits WHERE scope = ANY($1)",
      {TEXTARRAYOID});
  return limit_rows(execute(stmt, {strings_to_text_array(scopes)}));
}

std::optional<std::vector<LimitRule>> load_all_limits(std::size_t at_most) {
  static Statement stmt(
      "SELECT id, scope, max, per, sliding, valid, mode FROM allot.limits LIMIT $1", {INT8OID});
  Rows rows = execute(stmt, {Int64GetDatum(static_cast<std::int64_t>(at_most) + 1)});
  if (rows.size() > at_most) return std::nullopt;
  return limit_rows(rows);
}

void lock_entities(const std::vector<std::string>& sorted_keys, Timestamp at) {
  // INSERT ... ON CONFLICT DO UPDATE ... WHERE false locks each existing row
  // without writing a new version of it (a hot key's row would otherwise
  // pile up versions and index entries that every waiter has to walk); rows
  // are inserted and locked in the order of the ordered SELECT. A brand-new
  // key only takes a row lock, no table lock. What the lock protects is read
  // afterwards with the latest snapshot (see kAfterLocks).
  static Statement stmt(
      "INSERT INTO allot.entity_state AS e (key, last_seen) "
      "SELECT k, $2 FROM pg_catalog.unnest($1::text[]) WITH ORDINALITY AS u(k, n) ORDER BY n "
      "ON CONFLICT (key) DO UPDATE SET last_seen = e.last_seen WHERE false",
      {TEXTARRAYOID, TIMESTAMPTZOID});
  if (sorted_keys.empty()) return;
  execute(stmt, {strings_to_text_array(sorted_keys), TimestampTzGetDatum(at)});
}

namespace {

// Counter rows of spans: $1..$4 are the spans' keys, limit ids and bounds.
// The spans drive, whatever the statistics say: a LATERAL subquery (kept a
// subquery by OFFSET 0) can only be the inner side of a nested loop, so
// each span is one index probe. As a plain join, a plan made while
// allot.counters looked empty (analyzed right after CREATE EXTENSION)
// scanned the whole table once per load, and every span once per row.
constexpr const char* kCountersOfSpans =
    "SELECT c.key, c.limit_id, c.window_start, c.used "
    "FROM unnest($1::text[], $2::int8[], $3::timestamptz[], $4::timestamptz[]) "
    "  AS q(key, limit_id, lo, hi) "
    "CROSS JOIN LATERAL (SELECT c.key, c.limit_id, c.window_start, c.used "
    "                      FROM allot.counters c "
    "                     WHERE c.key = q.key AND c.limit_id = q.limit_id "
    "                       AND c.window_start >= q.lo AND c.window_start < q.hi "
    "                    OFFSET 0) c";

struct SpanArrays {
  Datum keys, ids, from, to;
  explicit SpanArrays(const std::vector<CounterSpan>& spans) {
    std::vector<std::string> k;
    std::vector<std::int64_t> id;
    std::vector<Timestamp> lo, hi;
    for (const CounterSpan& s : spans) {
      k.push_back(s.key);
      id.push_back(s.limit_id);
      lo.push_back(s.span.from);
      hi.push_back(s.span.to);
    }
    keys = strings_to_text_array(k);
    ids = int64_array(id);
    from = timestamp_array(lo);
    to = timestamp_array(hi);
  }
};

// Adds the counter row in `row`: key, limit id, window start and used in
// its first four columns.
void add_counter_row(const Rows& rows, std::uint64_t row, UsageLedger* ledger) {
  ledger->add(rows.get_text(row, 1), rows.get_int64(row, 2), DatumGetTimestampTz(rows.datum(row, 3)),
              rows.get_int64(row, 4));
}

}  // namespace

UsageLedger load_counters(const std::vector<CounterSpan>& spans) {
  static Statement stmt(kCountersOfSpans,
                        {TEXTARRAYOID, INT8ARRAYOID, TIMESTAMPTZARRAYOID, TIMESTAMPTZARRAYOID});
  UsageLedger ledger;
  if (spans.empty()) return ledger;
  const SpanArrays a(spans);
  Rows rows = execute(stmt, {a.keys, a.ids, a.from, a.to}, Snap::kAfterLocks);
  for (std::uint64_t i = 0; i < rows.size(); ++i) add_counter_row(rows, i, &ledger);
  return ledger;
}

KeysAtLoad load_keys(const std::vector<std::string>& keys, const std::vector<CounterSpan>& spans) {
  // One round trip instead of two: a key seen for the first time is on the
  // path of every redemption that names it. Path rows have a NULL limit id.
  static Statement stmt(
      std::string("SELECT e.key, NULL::int8, NULL::timestamptz, NULL::int8, e.path "
                  "  FROM allot.entity_state e WHERE e.key = ANY($5) "
                  "UNION ALL "
                  "SELECT x.*, NULL::text FROM (") +
          kCountersOfSpans + ") x",
      {TEXTARRAYOID, INT8ARRAYOID, TIMESTAMPTZARRAYOID, TIMESTAMPTZARRAYOID, TEXTARRAYOID});
  KeysAtLoad out;
  if (keys.empty()) return out;
  const SpanArrays a(spans);
  Rows rows = execute(stmt, {a.keys, a.ids, a.from, a.to, strings_to_text_array(keys)},
                      Snap::kAfterLocks);
  for (std::uint64_t i = 0; i < rows.size(); ++i) {
    if (rows.is_null(i, 2))
      out.paths[rows.get_text(i, 1)] = rows.get_text(i, 5);
    else
      add_counter_row(rows, i, &out.usage);
  }
  return out;
}

namespace {

void run_counter_statement(Statement& stmt, const std::vector<CounterDelta>& deltas) {
  if (deltas.empty()) return;
  std::vector<std::string> keys;
  std::vector<std::int64_t> ids, units;
  std::vector<Timestamp> starts;
  for (const CounterDelta& d : deltas) {
    keys.push_back(d.key);
    ids.push_back(d.limit_id);
    starts.push_back(d.window_start);
    units.push_back(d.units);
  }
  execute(stmt, {strings_to_text_array(keys), int64_array(ids), timestamp_array(starts),
                 int64_array(units)});
}

}  // namespace

void add_counters(const std::vector<CounterDelta>& deltas) {
  static Statement stmt(
      "INSERT INTO allot.counters AS c (key, limit_id, window_start, used) "
      "SELECT * FROM unnest($1::text[], $2::int8[], $3::timestamptz[], $4::int8[]) "
      "ON CONFLICT (key, limit_id, window_start) DO UPDATE SET used = c.used + EXCLUDED.used",
      {TEXTARRAYOID, INT8ARRAYOID, TIMESTAMPTZARRAYOID, INT8ARRAYOID});
  run_counter_statement(stmt, deltas);
}

void add_folded_counters(const std::vector<CounterDelta>& deltas) {
  static Statement stmt(
      "INSERT INTO allot.counters AS c (key, limit_id, window_start, used) "
      "SELECT x.key, x.limit_id, x.window_start, x.units "
      "  FROM unnest($1::text[], $2::int8[], $3::timestamptz[], $4::int8[]) "
      "       AS x(key, limit_id, window_start, units) "
      // Driven by the windows (see kCountersOfSpans).
      " CROSS JOIN LATERAL (SELECT 1 FROM allot.limits l WHERE l.id = x.limit_id OFFSET 0) l "
      "ON CONFLICT (key, limit_id, window_start) DO UPDATE SET used = c.used + EXCLUDED.used",
      {TEXTARRAYOID, INT8ARRAYOID, TIMESTAMPTZARRAYOID, INT8ARRAYOID});
  run_counter_statement(stmt, deltas);
}

void subtract_counters(const std::vector<CounterDelta>& deltas) {
  static Statement stmt(
      // One reversal's few windows. The redundant "= ANY" bounds the scan
      // of allot.counters to the reversed keys in either join order (an
      // UPDATE cannot take its target from a LATERAL subquery).
      "UPDATE allot.counters AS c SET used = c.used - u.n "
      "FROM unnest($1::text[], $2::int8[], $3::timestamptz[], $4::int8[]) AS u(k, l, w, n) "
      "WHERE c.key = ANY($1) AND c.key = u.k AND c.limit_id = u.l AND c.window_start = u.w",
      {TEXTARRAYOID, INT8ARRAYOID, TIMESTAMPTZARRAYOID, INT8ARRAYOID});
  run_counter_statement(stmt, deltas);
}

namespace {

struct EventColumns {
  std::vector<Uuid> ids;
  std::vector<Timestamp> ats;
  std::vector<std::string> kinds, keys, paths, details;
  std::vector<std::int64_t> amounts;

  explicit EventColumns(const std::vector<NewEvent>& events) {
    for (const NewEvent& e : events) {
      ids.push_back(e.txn);
      ats.push_back(e.at);
      kinds.emplace_back(e.kind);
      keys.push_back(array_literal(e.keys));
      amounts.push_back(e.amount);
      paths.push_back(e.path);
      details.push_back(e.detail_json);
    }
  }
};

constexpr const char* kEventsFromArrays =
    "INSERT INTO allot.events (txn, at, kind, keys, amount, path, detail) "
    "SELECT t, a, k, ks::text[], n, p, d::jsonb "
    "FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::int8[], "
    "            $6::text[], $7::text[]) AS u(t, a, k, ks, n, p, d) ";

Rows run_event_insert(Statement& stmt, const std::vector<NewEvent>& events) {
  EventColumns c(events);
  return execute(stmt, {uuid_array(c.ids), timestamp_array(c.ats), strings_to_text_array(c.kinds),
                        strings_to_text_array(c.keys), int64_array(c.amounts),
                        strings_to_text_array(c.paths), strings_to_text_array(c.details)});
}

const std::initializer_list<Oid> kEventTypes = {UUIDARRAYOID, TIMESTAMPTZARRAYOID, TEXTARRAYOID,
                                                TEXTARRAYOID, INT8ARRAYOID,        TEXTARRAYOID,
                                                TEXTARRAYOID};

// One grant (allot.redeem): plain parameters instead of arrays to unnest,
// which is about a third of the statement's cost.
Rows insert_one_grant(const NewGrant& g) {
  static Statement stmt(
      "INSERT INTO allot.events (txn, at, kind, keys, amount, path, detail) "
      "VALUES ($1, $2, 'grant', $3, $4, $5, $6) "
      "ON CONFLICT (txn) WHERE kind = 'grant' DO NOTHING RETURNING txn, seq",
      {UUIDOID, TIMESTAMPTZOID, TEXTARRAYOID, INT8OID, TEXTOID, JSONBOID});
  return execute(stmt, {uuid_to_datum(g.txn), TimestampTzGetDatum(g.at),
                        strings_to_text_array(g.keys), Int64GetDatum(g.amount),
                        string_to_text(g.path), g.detail});
}

Rows insert_many_grants(const std::vector<NewGrant>& grants) {
  static Statement stmt(
      "INSERT INTO allot.events (txn, at, kind, keys, amount, path, detail) "
      "SELECT t, a, 'grant', ks::text[], n, p, d "
      "FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::int8[], $5::text[], "
      "            $6::jsonb[]) AS u(t, a, ks, n, p, d) "
      "ON CONFLICT (txn) WHERE kind = 'grant' DO NOTHING RETURNING txn, seq",
      {UUIDARRAYOID, TIMESTAMPTZARRAYOID, TEXTARRAYOID, INT8ARRAYOID, TEXTARRAYOID,
       JSONBARRAYOID});
  std::vector<Uuid> ids;
  std::vector<Timestamp> ats;
  std::vector<std::string> keys, paths;
  std::vector<std::int64_t> amounts;
  std::vector<Datum> details;
  for (const NewGrant& g : grants) {
    ids.push_back(g.txn);
    ats.push_back(g.at);
    keys.push_back(array_literal(g.keys));
    amounts.push_back(g.amount);
    paths.push_back(g.path);
    details.push_back(g.detail);
  }
  return execute(stmt, {uuid_array(ids), timestamp_array(ats), strings_to_text_array(keys),
                        int64_array(amounts), strings_to_text_array(paths), jsonb_array(details)});
}

}  // namespace

std::map<Uuid, std::int64_t> insert_grants(const std::vector<NewGrant>& grants) {
  std::map<Uuid, std::int64_t> inserted;
  if (grants.empty()) return inserted;
  Rows rows = grants.size() == 1 ? insert_one_grant(grants.front()) : insert_many_grants(grants);
  for (std::uint64_t i = 0; i < rows.size(); ++i)
    inserted[datum_to_uuid(rows.datum(i, 1))] = rows.get_int64(i, 2);
  return inserted;
}

std::optional<std::int64_t> insert_reverse_event(const NewEvent& reverse) {
  static Statement stmt(
      std::string(kEventsFromArrays) +
          "ON CONFLICT (txn) WHERE kind = 'reverse' DO NOTHING RETURNING seq",
      kEventTypes);
  Rows rows = run_event_insert(stmt, {reverse});
  if (rows.size() == 0) return std::nullopt;
  return rows.get_int64(0, 1);
}

void insert_events(const std::vector<NewEvent>& events) {
  static Statement stmt(kEventsFromArrays, kEventTypes);
  if (events.empty()) return;
  run_event_insert(stmt, events);
}

namespace {

// A grant older than the replay window, moved to allot.events_archive by
// allot.archive_events(). Its reversal, if any, was archived with it or
// is still in allot.events. Read at the latest snapshot: an archiver that
// moved the grant while we waited on the unique index has committed.
std::optional<GrantedTxn> find_archived_grant(const Uuid& txn) {
  static Statement stmt(
      "SELECT g.txn, g.keys, g.amount, g.path, (g.detail->'counted')::text, "
      "       EXISTS (SELECT 1 FROM allot.event_log r WHERE r.txn = g.txn AND r.kind = 'reverse') "
      "FROM allot.events_archive g WHERE g.kind = 'grant' AND g.txn = $1",
      {UUIDOID});
  Rows rows = execute(stmt, {uuid_to_datum(txn)}, Snap::kAfterLocks);
  if (rows.size() == 0) return std::nullopt;
  return granted_from_row(rows, 0);
}

}  // namespace

std::optional<GrantedTxn> find_grant_for_reversal(const Uuid& txn) {
  // A placeholder grant waits on the unique index for an in-flight
  // redemption of this txn. If it goes in, nothing was granted: take it
  // back out (nobody else ever sees it).
  static Statement probe(
      "INSERT INTO allot.events (txn, at, kind, keys, amount, path) "
      "VALUES ($1, pg_catalog.now(), 'grant', '{}', 0, 'none') "
      "ON CONFLICT (txn) WHERE kind = 'grant' DO NOTHING RETURNING seq",
      {UUIDOID});
  static Statement unprobe("DELETE FROM allot.events WHERE seq = $1", {INT8OID});
  Rows inserted = execute(probe, {uuid_to_datum(txn)});
  if (inserted.size() > 0) {
    execute(unprobe, {Int64GetDatum(inserted.get_int64(0, 1))});
    return find_archived_grant(txn);
  }
  std::map<Uuid, GrantedTxn> found = load_granted({txn});
  if (found.empty()) return std::nullopt;
  return found.begin()->second;
}

}  // namespace allot::pg
