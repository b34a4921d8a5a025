#include "stats.hpp"

#include "keyclass.hpp"

namespace bench {

void Counters::add_decision(bool granted, bool was_replayed, const std::string& path,
                            const std::vector<std::string>& denied_keys, bool hot) {
  ++attempts;
  const bool fast = path == "fast";  // anything else is the row-locked path
  if (hot) ++hot_attempts;
  if (granted) {
    ++(fast ? granted_fast : granted_slow);
    if (was_replayed) ++replayed;
    if (hot) ++hot_granted;
    return;
  }
  ++(fast ? denied_fast : denied_slow);
  for (const std::string& key : denied_keys) ++denied_by_class[key_class(key)];
}

void Counters::add_error(const std::string& message, std::uint64_t items) {
  attempts += items;
  errors += items;
  note_message(message, items);
}

void Counters::add_anomaly(const std::string& message) {
  ++errors;
  note_message(message, 1);
}

void Counters::note_message(const std::string& message, std::uint64_t items) {
  // Messages can carry ids; cap the distinct ones so a storm of errors
  // cannot grow the map (and the once-a-second copy) without bound.
  auto it = error_messages.find(message);
  if (it != error_messages.end())
    it->second += items;
  else if (error_messages.size() < kMaxDistinctErrors)
    error_messages.emplace(message, items);
  else
    error_messages["(other messages)"] += items;
}

void Counters::merge(const Counters& o) {
  calls += o.calls;
  failed_calls += o.failed_calls;
  attempts += o.attempts;
  granted_fast += o.granted_fast;
  granted_slow += o.granted_slow;
  denied_fast += o.denied_fast;
  denied_slow += o.denied_slow;
  replayed += o.replayed;
  hot_attempts += o.hot_attempts;
  hot_granted += o.hot_granted;
  errors += o.errors;
  for (const auto& [k, n] : o.denied_by_class) denied_by_class[k] += n;
  for (const auto& [k, n] : o.error_messages) error_messages[k] += n;
}

Totals collect(std::vector<WorkerSlot>& slots) {
  Totals t;
  for (WorkerSlot& s : slots) {
    std::lock_guard<std::mutex> lock(s.mu);
    t.counters.merge(s.counters);
    t.latency.merge(s.latency);
    if (s.done) ++t.workers_done;
  }
  return t;
}

}  // namespace bench
