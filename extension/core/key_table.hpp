// The fast path's shared state: a fixed-size table of keys, each with a few
// meters (one per applicable limit) that count the units reserved in the
// limit's current window. It lives in PostgreSQL shared memory, but it is
// plain C++ over lock-free std::atomic (address-free, so valid across
// processes) and is unit-tested with threads on its own.
//
// While a key has a slot in state kFast, its meters are the authority for
// its usage: every unit granted to the key since the slot was created went
// through a meter (reserved with a CAS that never passes max), so the
// meters hold committed usage + units reserved by transactions still in
// flight. A transaction that rolls back gives its units back. Counters in
// the database catch up when the rollup folds the grants in the log.
//
// Readers take no lock: they pin a slot (or a meter) with an atomic
// increment, then check its state; whoever rewrites a slot or a meter first
// marks it and then waits for its pins to drain (a Dekker-style handshake
// over sequentially consistent atomics). Claiming a free slot and assigning
// a meter take a tiny per-bucket spin lock; neither happens on the hot path
// of a key that is already there.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "limit_rule.hpp"

namespace allot {

constexpr std::size_t kMaxSharedKeyBytes = 256;
constexpr int kMetersPerKey = 4;
constexpr int kSlotsPerBucket = 8;

enum class KeyState : std::uint32_t {
  kEmpty = 0,    // free
  kLoading = 1,  // being created: wait
  kFast = 2,     // meters are the authority
  kClosing = 3,  // moving to the slow path: no new participants
  kSlow = 4,     // marker: the key is on the slow path (row locks, counters)
  kRetiring = 5  // being emptied: treat as absent
};

struct Meter {
  std::atomic<std::int64_t> limit_id{0};  // 0: free
  std::atomic<std::int64_t> window_start{0};
  std::atomic<std::int64_t> used{0};
  std::atomic<std::uint32_t> pins{0};
  std::atomic<std::uint32_t> busy{0};  // 1 while limit/window/used are rewritten
  std::atomic<std::uint64_t> generation{0};
};

struct KeySlot {
  std::atomic<std::uint32_t> state{0};
  std::atomic<std::uint32_t> pins{0};
  // Transactions holding reservations on (or owing give-backs to) this key.
  std::atomic<std::int64_t> holders{0};
  std::atomic<std::int64_t> max_event_seq{0};  // highest log seq written through it
  std::atomic<std::int64_t> last_used{0};      // µs, decision clock
  std::atomic<std::int64_t> state_since{0};    // µs, when the state last changed
  std::atomic<std::uint64_t> rate_bits{0};     // double: recent units/s (rollup)
  std::atomic<std::int64_t> units_since_rollup{0};  // granted through it (for the rate)
  std::atomic<std::uint32_t> meter_lock{0};
  std::uint32_t db = 0;
  std::uint64_t hash = 0;
  std::uint16_t key_len = 0;
  char key[kMaxSharedKeyBytes];
  Meter meters[kMetersPerKey];

  std::string_view key_view() const { return {key, key_len}; }
  KeyState load_state() const { return static_cast<KeyState>(state.load()); }
  double rate() const;
  void set_rate(double r);
};

struct Bucket {
  std::atomic<std::uint32_t> lock{0};
  KeySlot slots[kSlotsPerBucket];
};

std::uint64_t hash_key(std::uint32_t db, std::string_view key);

// A slot held by a pin; unpins when it goes out of scope.
class PinnedSlot {
 public:
  PinnedSlot() = default;
  explicit PinnedSlot(KeySlot* s) : slot_(s) {}
  PinnedSlot(PinnedSlot&& o) noexcept : slot_(o.slot_) { o.slot_ = nullptr; }
  PinnedSlot& operator=(PinnedSlot&& o) noexcept;
  PinnedSlot(const PinnedSlot&) = delete;
  PinnedSlot& operator=(const PinnedSlot&) = delete;
  ~PinnedSlot() { reset(); }
  void reset();
  KeySlot* get() const { return slot_; }
  KeySlot* operator->() const { return slot_; }
  KeySlot& operator*() const { return *slot_; }
  explicit operator bool() const { return slot_ != nullptr; }

 private:
  KeySlot* slot_ = nullptr;
};

class KeyTable {
 public:
  // Bytes of shared memory for a table of at least max_keys slots.
  static std::size_t bytes_for(std::size_t max_keys);
  // Lays a fresh table out in `memory` (bytes_for(max_keys) bytes).
  static KeyTable* create(void* memory, std::size_t max_keys);

  std::size_t capacity() const { return buckets_ * kSlotsPerBucket; }
  std::size_t used_slots() const;

  // The slot of (db, key), pinned, in any state but kEmpty/kRetiring.
  PinnedSlot find(std::uint32_t db, std::string_view key) const;

  // find(), or else claim a free slot in the key's bucket: it comes back
  // pinned in state kLoading (the caller loads it, then publishes kFast or
  // kSlow, or gives it up with abandon()). nullopt: the bucket is full.
  struct Claimed {
    PinnedSlot slot;
    bool created = false;
  };
  std::optional<Claimed> find_or_claim(std::uint32_t db, std::string_view key);

  // Empties a claimed (kLoading) slot that could not be loaded.
  static void abandon(KeySlot* slot);

  // Empties a slot in `expected` state once nobody pins it, no transaction
  // holds reservations on it, and its last event (max_event_seq) is at or
  // below `folded_upto` (the counters hold all it counted). false: busy or
  // not folded yet (state unchanged). The last two are checked after the
  // slot left `expected`, when no transaction can join it any more.
  static bool retire(KeySlot* slot, KeyState expected,
                     std::int64_t folded_upto = INT64_MAX);

  // Visits every slot that is not empty (unpinned: for the rollup's scans,
  // which only read atomics and use retire()/state CAS to change things).
  template <typename F>
  void for_each(F&& visit) {
    for (std::size_t b = 0; b < buckets_; ++b)
      for (KeySlot& s : bucket(b).slots)
        if (s.load_state() != KeyState::kEmpty) visit(s);
  }
  // As for_each, telling each visit how many slots of the slot's bucket
  // are in use (a new key that hashes to a full bucket has no slot).
  template <typename F>
  void for_each_with_fill(F&& visit) {
    for (std::size_t b = 0; b < buckets_; ++b) {
      int fill = 0;
      for (const KeySlot& s : bucket(b).slots)
        if (s.load_state() != KeyState::kEmpty) ++fill;
      for (KeySlot& s : bucket(b).slots)
        if (s.load_state() != KeyState::kEmpty) visit(s, fill);
    }
  }

 private:
  Bucket& bucket(std::size_t i) const { return buckets()[i]; }
  Bucket* buckets() const {
    return reinterpret_cast<Bucket*>(reinterpret_cast<char*>(const_cast<KeyTable*>(this)) +
                                     sizeof(KeyTable));
  }
  std::size_t bucket_of(std::uint64_t hash) const { return hash % buckets_; }
  PinnedSlot find_in(const Bucket& b, std::uint32_t db, std::uint64_t hash,
                     std::string_view key) const;

  std::size_t buckets_ = 0;
};

// Whether a key with these applicable limits can be served from meters:
// one meter per limit, fixed or total windows (sliding windows need
// sub-buckets: those keys stay on the slow path).
bool fast_path_eligible(const std::vector<const LimitRule*>& rules);

// ---------------------------------------------------------------- meters --

// The meter of `limit_id` in a pinned slot, or nullptr.
Meter* find_meter(KeySlot& slot, std::int64_t limit_id);

// Assigns a free meter of the slot to (limit_id, window_start, used).
// Returns the meter (also when another session assigned it first) or
// nullptr when all meters are taken.
Meter* assign_meter(KeySlot& slot, std::int64_t limit_id, std::int64_t window_start,
                    std::int64_t used);

// Frees the meter of a limit that no longer exists (rare: limits dropped
// or replaced). false when it is busy right now.
bool free_meter(KeySlot& slot, Meter& meter);

struct Reservation {
  enum class Result { kReserved, kNoRoom, kNeedsRoll, kAhead, kRetry } result = Result::kRetry;
  std::int64_t used = 0;           // units in the meter before this request
  std::int64_t window_start = 0;   // the window the units were counted in
  std::uint64_t generation = 0;    // to give back to the same meter
};

// Reserves `amount` in the meter's window `window_start`, at most `max` in
// all unless `enforce` is false (shadow limits count, never deny). A meter
// whose window is older answers kNeedsRoll (move it with roll_meter first).
// One whose window is newer answers kAhead and reserves nothing: another
// session decided later than the caller's decision time and moved it, and
// the caller's window is no longer counted here (windows only move
// forward). Counting the units in the newer window instead would place a
// redemption in a window that does not hold its decision time.
Reservation reserve(Meter& meter, std::int64_t limit_id, std::int64_t window_start,
                    std::int64_t amount, std::int64_t max, bool enforce);

// Units currently in the meter for limit_id (for denials' details).
std::optional<std::int64_t> peek(Meter& meter, std::int64_t limit_id);

// Moves a meter forward to window_start with `used` units (loaded from the
// counters). No-op when it is already there or further.
void roll_meter(Meter& meter, std::int64_t limit_id, std::int64_t window_start, std::int64_t used);

// Gives units back (a rollback, or a committed reversal). Dropped when the
// meter has moved to another window or limit since: that window is over.
void give_back(Meter& meter, std::uint64_t generation, std::int64_t amount);

}  // namespace allot
