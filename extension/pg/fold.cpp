#include "fold.hpp"

#include <algorithm>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "../core/fold_tally.hpp"
#include "convert.hpp"
#include "guard.hpp"
#include "postgres.hpp"
#include "spi.hpp"
#include "store.hpp"

// The fold used to be one SQL statement: jsonb_array_elements over every
// event's counted windows, grouped twice, cast and upserted. Under a
// steady batch load that cost 150 ms per 7,000 events, most of it
// unnesting, sorting and grouping about 20,000 entries. Here the log is
// read in chunks, the windows are summed in a hash table (FoldTally), and
// one upsert per 50,000 distinct windows writes the counters.

namespace allot::pg {
namespace {

constexpr std::int64_t kRowsPerChunk = 10000;      // log rows read per statement (at most)
constexpr std::size_t kWindowsPerUpsert = 50000;  // distinct counter rows per upsert

// Restores the memory context it found, also when an exception leaves.
class InContext {
 public:
  explicit InContext(MemoryContext cx) : previous_(MemoryContextSwitchTo(cx)) {}
  ~InContext() { MemoryContextSwitchTo(previous_); }
  InContext(const InContext&) = delete;
  InContext& operator=(const InContext&) = delete;

 private:
  MemoryContext previous_;
};

[[noreturn]] void malformed(std::int64_t seq, const char* what) {
  throw SqlError(ERRCODE_DATA_CORRUPTED,
                 "allot.events seq " + std::to_string(seq) + ": detail.counted " + what,
                 "Each entry must be [key, limit_id, window_start] with a fourth element \"f\" "
                 "where the fast path counted it.");
}

const JsonbValue* element(JsonbContainer* array, std::uint32_t i) {
  return pg_call([&] { return getIthJsonbValueFromContainer(array, i); });
}

bool is_array(const JsonbValue* v) {
  return v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data);
}

std::string_view string_of(const JsonbValue* v) {
  return std::string_view(v->val.string.val, static_cast<std::size_t>(v->val.string.len));
}

// Adds one event's fast-path windows to the tally: the entries of
// detail.counted whose fourth element is "f", each with `units`.
class CountedReader {
 public:
  explicit CountedReader(FoldTally* tally) : tally_(tally) {}

  void add(std::int64_t seq, Datum detail, std::int64_t units) {
    Jsonb* jb = pg_call([&] { return DatumGetJsonbP(detail); });
    if (!JsonContainerIsObject(&jb->root)) return;  // detail->'counted' is NULL
    const JsonbValue* counted = pg_call([&] {
      return getKeyJsonValueFromContainer(&jb->root, "counted", 7, nullptr);
    });
    if (counted == nullptr) return;
    if (!is_array(counted)) malformed(seq, "is not an array");
    JsonbContainer* entries = counted->val.binary.data;
    const std::uint32_t n = JsonContainerSize(entries);
    for (std::uint32_t i = 0; i < n; ++i) {
      const JsonbValue* entry = element(entries, i);
      if (!is_array(entry)) continue;  // not an entry the fast path counted
      JsonbContainer* fields = entry->val.binary.data;
      if (JsonContainerSize(fields) < 4) continue;
      const JsonbValue* mark = element(fields, 3);
      if (mark->type != jbvString || string_of(mark) != "f") continue;
      const JsonbValue* key = element(fields, 0);
      if (key->type != jbvString) malformed(seq, "has an entry whose key is not a string");
      tally_->add(string_of(key), limit_id(seq, element(fields, 1)),
                  window_start(seq, element(fields, 2)), units);
    }
  }

 private:
  static std::int64_t limit_id(std::int64_t seq, const JsonbValue* v) {
    if (v->type == jbvNumeric)
      return pg_call([&] {
        return DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric)));
      });
    if (v->type != jbvString) malformed(seq, "has an entry whose limit_id is not a number");
    const std::string text(string_of(v));
    return pg_call(
        [&] { return DatumGetInt64(DirectFunctionCall1(int8in, CStringGetDatum(text.c_str()))); });
  }

  // A log holds few distinct windows: each text is parsed once.
  Timestamp window_start(std::int64_t seq, const JsonbValue* v) {
    if (v->type != jbvString) malformed(seq, "has an entry whose window_start is not a string");
    std::string text(string_of(v));
    auto it = parsed_.find(text);
    if (it != parsed_.end()) return it->second;
    const Timestamp ts = parse_timestamp(text.c_str());
    parsed_.emplace(std::move(text), ts);
    return ts;
  }

  FoldTally* tally_;
  std::unordered_map<std::string, Timestamp> parsed_;
};

}  // namespace

Folded fold_range(std::int64_t after, std::int64_t upto) {
  static Statement read(
      "SELECT e.seq, "
      "       CASE e.kind WHEN 'grant' THEN e.amount WHEN 'reverse' THEN -e.amount END, "
      "       CASE WHEN e.kind = 'grant' AND e.path = 'slow' THEN e.keys END, "
      "       e.at, e.detail "
      "  FROM allot.events e WHERE e.seq > $1 AND e.seq <= $2 ORDER BY e.seq LIMIT $3",
      {INT8OID, INT8OID, INT8OID});
  Folded out;
  if (upto <= after) return out;
  FoldTally tally;
  CountedReader counted(&tally);
  // What reading a chunk allocates (detoasted values, key arrays, parsed
  // numbers) is freed with the chunk: a worker far behind reads millions.
  MemoryContext chunk_memory = pg_call([] {
    return AllocSetContextCreate(CurrentMemoryContext, "pg_allot fold chunk",
                                 ALLOCSET_DEFAULT_SIZES);
  });
  // Chunks of rows, not of seqs: the log may have gaps of any size
  // (rolled-back writers, a sequence moved on by hand).
  for (std::int64_t lo = after;;) {
    // A fresh snapshot for each chunk, taken after the caller read the
    // horizon.
    const Rows rows = execute(
        read, {Int64GetDatum(lo), Int64GetDatum(upto), Int64GetDatum(kRowsPerChunk)},
        Snap::kAfterLocks);
    const std::uint64_t n = rows.size();
    {
      const InContext in_chunk(chunk_memory);
      for (std::uint64_t i = 0; i < n; ++i) {
        ++out.events;
        const std::int64_t seq = rows.get_int64(i, 1);
        lo = seq;  // ascending
        if (rows.is_null(i, 2)) continue;  // a denial
        const std::int64_t units = rows.get_int64(i, 2);
        if (!rows.is_null(i, 3)) {  // a slow-path grant: its keys' rates
          const Timestamp at = DatumGetTimestampTz(rows.datum(i, 4));
          for (const std::string& key : text_array_to_strings(rows.datum(i, 3), "keys")) {
            auto it = out.by_key.try_emplace(key, KeyUnits{0, at}).first;
            it->second.units += static_cast<double>(units);
            it->second.last_at = std::max(it->second.last_at, at);
          }
        }
        if (!rows.is_null(i, 5)) counted.add(seq, rows.datum(i, 5), units);
      }
    }
    free_rows();
    pg_call([&] { MemoryContextReset(chunk_memory); });
    // In key order: the order every writer of counters locks rows in.
    if (tally.size() >= kWindowsPerUpsert) add_folded_counters(tally.take_sorted());
    if (n < static_cast<std::uint64_t>(kRowsPerChunk)) break;
  }
  add_folded_counters(tally.take_sorted());
  pg_call([&] { MemoryContextDelete(chunk_memory); });
  return out;
}

}  // namespace allot::pg
