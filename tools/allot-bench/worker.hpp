// One worker thread: draws keys, calls the client, records the outcome in
// its WorkerSlot until told to stop or the request budget is spent.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include <allot/client.hpp>

#include "scenario.hpp"
#include "stats.hpp"

namespace bench {

// Shared by the workers and the main thread.
class RunControl {
 public:
  // budget: total redemptions allowed (--requests); 0 means no limit.
  explicit RunControl(std::uint64_t budget);

  // Up to `want` redemptions from the budget; 0 when spent or stopped.
  std::uint64_t claim(std::uint64_t want);
  void request_stop() { stop_.store(true, std::memory_order_relaxed); }
  bool stopping() const { return stop_.load(std::memory_order_relaxed); }

  // Workers call this when they leave, so the main thread can stop waiting
  // for the next tick when a --requests run finishes early.
  void worker_finished();
  // Sleep until `deadline` or until `workers` workers have finished.
  template <class TimePoint>
  bool wait_until(TimePoint deadline, int workers) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_until(lock, deadline, [&] { return finished_ >= workers; });
  }

 private:
  std::atomic<bool> stop_{false};
  const bool limited_;
  std::atomic<std::int64_t> remaining_;
  std::mutex mu_;
  std::condition_variable cv_;
  int finished_ = 0;
};

void run_worker(allot::Client& client, const Workload& workload, int batch, std::uint64_t seed,
                WorkerSlot& slot, RunControl& control);

// "Conflict [23505]: message" — the error's type and SQLSTATE up front, so the
// report groups errors by cause.
std::string describe_error(const std::exception& e);

}  // namespace bench
