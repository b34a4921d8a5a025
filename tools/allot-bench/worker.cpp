#include "worker.hpp"

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace bench {
namespace {

using Clock = std::chrono::steady_clock;

std::uint64_t micros_between(Clock::time_point a, Clock::time_point b) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(b - a).count());
}

// After a failed call (the client has already retried), pause briefly so a
// dead server does not turn the benchmark into a busy loop of errors.
void back_off() { std::this_thread::sleep_for(std::chrono::milliseconds(10)); }

}  // namespace

RunControl::RunControl(std::uint64_t budget)
    : limited_(budget > 0), remaining_(static_cast<std::int64_t>(budget)) {}

std::uint64_t RunControl::claim(std::uint64_t want) {
  if (stopping()) return 0;
  if (!limited_) return want;
  const std::int64_t before =
      remaining_.fetch_sub(static_cast<std::int64_t>(want), std::memory_order_relaxed);
  if (before <= 0) return 0;
  return std::min<std::uint64_t>(want, static_cast<std::uint64_t>(before));
}

void RunControl::worker_finished() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++finished_;
  }
  cv_.notify_all();
}

std::string describe_error(const std::exception& e) {
  const char* type = "error";
  std::string sqlstate;
  if (const auto* ae = dynamic_cast<const allot::Error*>(&e)) {
    sqlstate = ae->sqlstate();
    if (dynamic_cast<const allot::BadRequest*>(&e))
      type = "BadRequest";
    else if (dynamic_cast<const allot::Conflict*>(&e))
      type = "Conflict";
    else if (dynamic_cast<const allot::ConnectionError*>(&e))
      type = "ConnectionError";
    else
      type = "allot::Error";
  }
  std::string msg = e.what();
  // Server messages end in a newline and may span lines; one line reads better.
  std::replace(msg.begin(), msg.end(), '\n', ' ');
  while (!msg.empty() && msg.back() == ' ') msg.pop_back();
  std::string out = type;
  if (!sqlstate.empty()) out += " [" + sqlstate + "]";
  return out + ": " + msg;
}

void run_worker(allot::Client& client, const Workload& workload, int batch, std::uint64_t seed,
                WorkerSlot& slot, RunControl& control) {
  KeyGenerator keys(workload, seed);
  std::vector<allot::Request> requests;
  std::vector<bool> hot;

  while (true) {
    const std::uint64_t n = control.claim(static_cast<std::uint64_t>(batch));
    if (n == 0) break;

    if (batch == 1) {
      std::vector<std::string> k = keys.next();
      const bool is_hot = keys.last_was_hot();
      const allot::Uuid txn = allot::Uuid::random();  // fresh: every call is a new attempt
      const auto t0 = Clock::now();
      try {
        const allot::Decision d = client.redeem(txn, k);
        const auto t1 = Clock::now();
        std::lock_guard<std::mutex> lock(slot.mu);
        ++slot.counters.calls;
        slot.latency.record(micros_between(t0, t1));
        slot.counters.add_decision(d.granted, d.replayed, d.path, d.denied_keys, is_hot);
      } catch (const std::exception& e) {
        {
          std::lock_guard<std::mutex> lock(slot.mu);
          ++slot.counters.failed_calls;
          slot.counters.add_error(describe_error(e), 1);
        }
        back_off();
      }
      continue;
    }

    requests.clear();
    hot.clear();
    for (std::uint64_t i = 0; i < n; ++i) {
      allot::Request r;
      r.txn = allot::Uuid::random();
      r.keys = keys.next();
      hot.push_back(keys.last_was_hot());
      requests.push_back(std::move(r));
    }
    const auto t0 = Clock::now();
    try {
      const std::vector<allot::ItemDecision> items = client.redeem_many(requests);
      const auto t1 = Clock::now();
      std::lock_guard<std::mutex> lock(slot.mu);
      ++slot.counters.calls;
      slot.latency.record(micros_between(t0, t1));
      std::vector<bool> seen(n, false);
      for (const allot::ItemDecision& it : items) {
        const bool in_range = it.idx >= 0 && static_cast<std::uint64_t>(it.idx) < n;
        if (!in_range || seen[it.idx]) {
          slot.counters.add_anomaly("redeem_many returned an unexpected or repeated idx");
          continue;
        }
        seen[it.idx] = true;
        if (it.error)
          slot.counters.add_error("item error: " + *it.error, 1);
        else
          slot.counters.add_decision(it.granted, it.replayed, it.path, it.denied_keys, hot[it.idx]);
      }
      const auto missing = static_cast<std::uint64_t>(std::count(seen.begin(), seen.end(), false));
      if (missing) slot.counters.add_error("redeem_many returned no decision for an item", missing);
    } catch (const std::exception& e) {
      {
        std::lock_guard<std::mutex> lock(slot.mu);
        ++slot.counters.failed_calls;
        slot.counters.add_error(describe_error(e), n);
      }
      back_off();
    }
  }

  {
    std::lock_guard<std::mutex> lock(slot.mu);
    slot.done = true;
  }
  control.worker_finished();
}

}  // namespace bench
