#include "key_table.hpp"

#include <cstring>
#include <new>
#include <thread>

namespace allot {
namespace {

// Spins briefly, then yields: every wait here is for another process to
// finish a few instructions (a CAS, a pin, a memcpy).
void pause_briefly(int& spins) {
  if (++spins > 64) std::this_thread::yield();
}

class SpinGuard {
 public:
  explicit SpinGuard(std::atomic<std::uint32_t>& lock) : lock_(lock) {
    int spins = 0;
    std::uint32_t expected = 0;
    while (!lock_.compare_exchange_weak(expected, 1)) {
      expected = 0;
      pause_briefly(spins);
    }
  }
  ~SpinGuard() { lock_.store(0); }
  SpinGuard(const SpinGuard&) = delete;
  SpinGuard& operator=(const SpinGuard&) = delete;

 private:
  std::atomic<std::uint32_t>& lock_;
};

void wait_for_no_pins(const std::atomic<std::uint32_t>& pins) {
  int spins = 0;
  while (pins.load() != 0) pause_briefly(spins);
}

bool is_live(KeyState s) { return s != KeyState::kEmpty && s != KeyState::kRetiring; }

}  // namespace

double KeySlot::rate() const {
  const std::uint64_t bits = rate_bits.load(std::memory_order_relaxed);
  double r;
  std::memcpy(&r, &bits, sizeof r);
  return r;
}

void KeySlot::set_rate(double r) {
  std::uint64_t bits;
  std::memcpy(&bits, &r, sizeof bits);
  rate_bits.store(bits, std::memory_order_relaxed);
}

std::uint64_t hash_key(std::uint32_t db, std::string_view key) {
  // FNV-1a, 64 bit: the same in every process (std::hash is not promised
  // to be), and good enough to spread keys over buckets.
  std::uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ULL;
  };
  for (int i = 0; i < 4; ++i) mix(static_cast<unsigned char>(db >> (8 * i)));
  for (char c : key) mix(static_cast<unsigned char>(c));
  return h ^ (h >> 29);
}

PinnedSlot& PinnedSlot::operator=(PinnedSlot&& o) noexcept {
  if (this != &o) {
    reset();
    slot_ = o.slot_;
    o.slot_ = nullptr;
  }
  return *this;
}

void PinnedSlot::reset() {
  if (slot_) slot_->pins.fetch_sub(1);
  slot_ = nullptr;
}

std::size_t KeyTable::bytes_for(std::size_t max_keys) {
  const std::size_t buckets = (max_keys + kSlotsPerBucket - 1) / kSlotsPerBucket;
  return sizeof(KeyTable) + (buckets ? buckets : 1) * sizeof(Bucket);
}

KeyTable* KeyTable::create(void* memory, std::size_t max_keys) {
  auto* table = new (memory) KeyTable();
  const std::size_t buckets = (max_keys + kSlotsPerBucket - 1) / kSlotsPerBucket;
  table->buckets_ = buckets ? buckets : 1;
  for (std::size_t b = 0; b < table->buckets_; ++b) new (&table->bucket(b)) Bucket();
  return table;
}

std::size_t KeyTable::used_slots() const {
  std::size_t n = 0;
  for (std::size_t b = 0; b < buckets_; ++b)
    for (const KeySlot& s : bucket(b).slots)
      if (is_live(s.load_state())) ++n;
  return n;
}

PinnedSlot KeyTable::find_in(const Bucket& b, std::uint32_t db, std::uint64_t hash,
                             std::string_view key) const {
  for (const KeySlot& cs : b.slots) {
    KeySlot& s = const_cast<KeySlot&>(cs);
    if (!is_live(s.load_state()) || s.hash != hash) continue;
    // Pin, then look again: a slot is only rewritten after it was emptied
    // with no pins (retire), so once pinned and live its identity holds.
    s.pins.fetch_add(1);
    PinnedSlot pinned(&s);
    if (is_live(s.load_state()) && s.hash == hash && s.db == db && s.key_view() == key)
      return pinned;
  }
  return {};
}

PinnedSlot KeyTable::find(std::uint32_t db, std::string_view key) const {
  if (key.size() > kMaxSharedKeyBytes) return {};
  const std::uint64_t h = hash_key(db, key);
  return find_in(bucket(bucket_of(h)), db, h, key);
}

std::optional<KeyTable::Claimed> KeyTable::find_or_claim(std::uint32_t db, std::string_view key) {
  if (key.size() > kMaxSharedKeyBytes) return std::nullopt;
  const std::uint64_t h = hash_key(db, key);
  Bucket& b = bucket(bucket_of(h));
  if (PinnedSlot found = find_in(b, db, h, key)) return Claimed{std::move(found), false};
  SpinGuard guard(b.lock);
  // Under the bucket lock nobody else claims: look once more, then take a
  // free slot nobody pins (a pin on an empty slot is a reader passing by).
  if (PinnedSlot found = find_in(b, db, h, key)) return Claimed{std::move(found), false};
  for (KeySlot& s : b.slots) {
    if (s.load_state() != KeyState::kEmpty || s.pins.load() != 0) continue;
    s.db = db;
    s.hash = h;
    s.key_len = static_cast<std::uint16_t>(key.size());
    std::memcpy(s.key, key.data(), key.size());
    for (Meter& m : s.meters) {
      m.limit_id.store(0);
      m.used.store(0);
      m.generation.fetch_add(1);
    }
    s.holders.store(0);
    s.max_event_seq.store(0);
    s.set_rate(0);
    s.units_since_rollup.store(0);
    s.pins.fetch_add(1);
    s.state.store(static_cast<std::uint32_t>(KeyState::kLoading));
    return Claimed{PinnedSlot(&s), true};
  }
  return std::nullopt;
}

void KeyTable::abandon(KeySlot* slot) {
  slot->state.store(static_cast<std::uint32_t>(KeyState::kEmpty));
}

bool KeyTable::retire(KeySlot* slot, KeyState expected, std::int64_t folded_upto) {
  auto want = static_cast<std::uint32_t>(expected);
  if (!slot->state.compare_exchange_strong(want, static_cast<std::uint32_t>(KeyState::kRetiring)))
    return false;
  // Readers pin first and check the state second; we set the state first
  // and check pins second: one of us sees the other. A holder notes its
  // event seq before it stops holding, so with no holder left the seq read
  // after is final: a grant that slipped in since the caller looked is seen.
  if (slot->pins.load() != 0 || slot->holders.load() != 0 ||
      slot->max_event_seq.load() > folded_upto) {
    slot->state.store(static_cast<std::uint32_t>(expected));
    return false;
  }
  slot->state.store(static_cast<std::uint32_t>(KeyState::kEmpty));
  return true;
}

bool fast_path_eligible(const std::vector<const LimitRule*>& rules) {
  if (rules.size() > static_cast<std::size_t>(kMetersPerKey)) return false;
  for (const LimitRule* r : rules)
    if (r->sliding) return false;
  return true;
}

// ---------------------------------------------------------------- meters --

Meter* find_meter(KeySlot& slot, std::int64_t limit_id) {
  for (Meter& m : slot.meters)
    if (m.limit_id.load() == limit_id) return &m;
  return nullptr;
}

Meter* assign_meter(KeySlot& slot, std::int64_t limit_id, std::int64_t window_start,
                    std::int64_t used) {
  SpinGuard guard(slot.meter_lock);
  if (Meter* m = find_meter(slot, limit_id)) return m;
  for (Meter& m : slot.meters) {
    if (m.limit_id.load() != 0) continue;
    m.busy.store(1);
    wait_for_no_pins(m.pins);
    m.window_start.store(window_start);
    m.used.store(used);
    m.generation.fetch_add(1);
    m.limit_id.store(limit_id);
    m.busy.store(0);
    return &m;
  }
  return nullptr;
}

bool free_meter(KeySlot& slot, Meter& meter) {
  SpinGuard guard(slot.meter_lock);
  std::uint32_t idle = 0;
  if (!meter.busy.compare_exchange_strong(idle, 1)) return false;
  wait_for_no_pins(meter.pins);
  meter.limit_id.store(0);
  meter.generation.fetch_add(1);
  meter.busy.store(0);
  return true;
}

namespace {

// Pins a meter that is not being rewritten; unpins on scope exit.
class MeterPin {
 public:
  explicit MeterPin(Meter& m) : m_(m) {
    int spins = 0;
    for (;;) {
      m_.pins.fetch_add(1);
      if (m_.busy.load() == 0) return;
      m_.pins.fetch_sub(1);
      while (m_.busy.load() != 0) pause_briefly(spins);
    }
  }
  ~MeterPin() { m_.pins.fetch_sub(1); }
  MeterPin(const MeterPin&) = delete;
  MeterPin& operator=(const MeterPin&) = delete;

 private:
  Meter& m_;
};

}  // namespace

Reservation reserve(Meter& meter, std::int64_t limit_id, std::int64_t window_start,
                    std::int64_t amount, std::int64_t max, bool enforce) {
  Reservation r;
  MeterPin pin(meter);
  if (meter.limit_id.load() != limit_id) return r;  // kRetry: it was reassigned
  const std::int64_t ws = meter.window_start.load();
  r.window_start = ws;
  if (ws != window_start) {
    r.result = ws < window_start ? Reservation::Result::kNeedsRoll : Reservation::Result::kAhead;
    return r;
  }
  r.generation = meter.generation.load();
  std::int64_t used = meter.used.load();
  for (;;) {
    r.used = used;
    // Written so that it cannot overflow: amount and max are positive.
    if (enforce && (used > max || amount > max - used)) {
      r.result = Reservation::Result::kNoRoom;
      return r;
    }
    if (meter.used.compare_exchange_weak(used, used + amount)) {
      r.result = Reservation::Result::kReserved;
      return r;
    }
  }
}

std::optional<std::int64_t> peek(Meter& meter, std::int64_t limit_id) {
  MeterPin pin(meter);
  if (meter.limit_id.load() != limit_id) return std::nullopt;
  return meter.used.load();
}

void roll_meter(Meter& meter, std::int64_t limit_id, std::int64_t window_start,
                std::int64_t used) {
  int spins = 0;
  for (;;) {
    if (meter.limit_id.load() != limit_id || meter.window_start.load() >= window_start) return;
    std::uint32_t idle = 0;
    if (meter.busy.compare_exchange_strong(idle, 1)) break;
    pause_briefly(spins);
  }
  wait_for_no_pins(meter.pins);
  if (meter.limit_id.load() == limit_id && meter.window_start.load() < window_start) {
    meter.window_start.store(window_start);
    meter.used.store(used);
    meter.generation.fetch_add(1);
  }
  meter.busy.store(0);
}

void give_back(Meter& meter, std::uint64_t generation, std::int64_t amount) {
  MeterPin pin(meter);
  if (meter.generation.load() == generation) meter.used.fetch_sub(amount);
}

}  // namespace allot
