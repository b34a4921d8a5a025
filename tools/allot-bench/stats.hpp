// What the workers count. Each worker owns one WorkerSlot; the main thread
// copies the slots once a second for the progress line and the timeline, so
// a slot is guarded by its own mutex (uncontended but for that one copy a
// second: far cheaper than the round trip being measured).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "histogram.hpp"

namespace bench {

struct Counters {
  std::uint64_t calls = 0;         // redeem / redeem_many calls that returned
  std::uint64_t failed_calls = 0;  // calls that threw (after the client's retries)
  std::uint64_t attempts = 0;      // redemptions decided or failed (batch items count one each)
  std::uint64_t granted_fast = 0, granted_slow = 0;
  std::uint64_t denied_fast = 0, denied_slow = 0;
  std::uint64_t replayed = 0;  // granted decisions that were replays (client retries)
  std::uint64_t hot_attempts = 0, hot_granted = 0;
  std::uint64_t errors = 0;  // items lost to a failed call or rejected with an error text
  // Class of each denied key -> denials naming it. A denial can name
  // several keys, so these can add up to more than the denials.
  std::map<std::string, std::uint64_t> denied_by_class;
  // First distinct error messages, with counts (bounded: see add_error).
  std::map<std::string, std::uint64_t> error_messages;

  std::uint64_t granted() const { return granted_fast + granted_slow; }
  std::uint64_t denied() const { return denied_fast + denied_slow; }

  void add_decision(bool granted, bool replayed, const std::string& path,
                    const std::vector<std::string>& denied_keys, bool hot);
  // `items` redemptions were lost to one error.
  void add_error(const std::string& message, std::uint64_t items);
  // A reply that breaks the API contract (e.g. a duplicate idx): an error,
  // but no redemption of its own.
  void add_anomaly(const std::string& message);
  void merge(const Counters& other);

  static constexpr std::size_t kMaxDistinctErrors = 20;

 private:
  void note_message(const std::string& message, std::uint64_t n);
};

struct WorkerSlot {
  std::mutex mu;
  Counters counters;
  Histogram latency;  // per call, microseconds
  bool done = false;
};

// A consistent copy of all slots.
struct Totals {
  Counters counters;
  Histogram latency;
  int workers_done = 0;
};

Totals collect(std::vector<WorkerSlot>& slots);

}  // namespace bench
