// allot-bench: a load generator for pg_allot built on the C++ client.
// main wires the pieces together: options -> setup -> worker threads with a
// once-a-second tick (progress line, timeline) -> server checks -> report.
// See --help (options.cpp) for what it does and what its exit status means.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include <allot/client.hpp>

#include "monitor.hpp"
#include "options.hpp"
#include "progress.hpp"
#include "report.hpp"
#include "scenario.hpp"
#include "setup.hpp"
#include "stats.hpp"
#include "chart.hpp"
#include "timeline.hpp"
#include "worker.hpp"
#ifdef ALLOT_BENCH_WITH_REDIS
#include "redis_backend.hpp"
#endif

namespace bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;

#ifdef ALLOT_BENCH_WITH_REDIS
constexpr bool kHaveRedis = true;
#else
constexpr bool kHaveRedis = false;
#endif

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::uint64_t random_seed() {
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

// Prints the progress line in place on a terminal; a plain line per second
// otherwise, so logs of CI runs stay readable.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool enabled) : enabled_(enabled), tty_(isatty(STDERR_FILENO)) {}
  void show(const std::string& line) {
    if (!enabled_) return;
    if (tty_) {
      // Pad over a longer previous line; no escape codes needed.
      std::string padded = line;
      if (padded.size() < last_len_) padded.append(last_len_ - padded.size(), ' ');
      std::cerr << '\r' << padded << std::flush;
      last_len_ = line.size();
    } else {
      std::cerr << line << '\n';
    }
  }
  void finish() {
    if (enabled_ && tty_ && last_len_) std::cerr << '\n';
  }

 private:
  bool enabled_, tty_;
  std::size_t last_len_ = 0;
};

ChartLabels chart_labels(const Options& o, const Workload& workload, const RunResult& r) {
  std::ostringstream title;
  title << to_string(o.scenario) << ": " << o.threads << " threads";
  if (o.batch > 1) title << ", batches of " << o.batch;
  title << ", " << static_cast<long long>(std::lround(r.elapsed_s)) << " s";
  return {title.str(), workload.hot_key, r.hot_limit};
}

int run(const Options& o) {
  const std::uint64_t seed = o.seed.value_or(random_seed());
  const Workload workload = make_workload(o);
  RunResult result;
  result.options = o;
  result.seed = seed;

  // Connections first: failing here is a setup problem (exit 3), not a
  // benchmark result. pg: a monitor connection for the server checks and
  // one allot::Client per thread; redis: one connection per thread and no
  // monitor (there is nothing to check on the server).
  const bool pg = o.backend == Backend::pg;
  std::unique_ptr<Monitor> monitor;
  std::vector<allot::Client> clients;
#ifdef ALLOT_BENCH_WITH_REDIS
  std::vector<RedisConnection> redis;
  const RedisLimits limits = redis_limits(o);
  if (!workload.hot_key.empty()) result.hot_limit = limits.hot;
#endif
  try {
    if (pg) {
      monitor = std::make_unique<Monitor>(o.dsn);
      if (o.setup) {
        allot::Client admin(o.dsn);
        result.limits_set = apply_limits(admin, *monitor, o);
      }
      clients.reserve(static_cast<std::size_t>(o.threads));
      for (int i = 0; i < o.threads; ++i) clients.emplace_back(o.dsn);
    } else {
#ifdef ALLOT_BENCH_WITH_REDIS
      redis.reserve(static_cast<std::size_t>(o.threads));
      for (int i = 0; i < o.threads; ++i) redis.emplace_back(o.redis_host, o.redis_port);
#endif
    }
  } catch (const std::exception& e) {
    std::cerr << "allot-bench: cannot set up the run: " << describe_error(e) << "\n";
    return kExitUnreachable;
  }

  ServerStats before;
  std::int64_t seq_before = 0;
  bool have_seq_before = false;  // a plain pair: GCC misreads an optional here
  if (pg) {
    before = monitor->stats();
    if (const std::optional<std::int64_t> seq = monitor->max_event_seq()) {
      seq_before = *seq;
      have_seq_before = true;
    }
  }
  const bool sample_hot =
      pg && (!o.timeline_file.empty() || !o.chart_file.empty()) && !workload.hot_key.empty();

  std::vector<WorkerSlot> slots(static_cast<std::size_t>(o.threads));
  RunControl control(o.requests.value_or(0));
  std::vector<std::thread> threads;
  const std::optional<double> duration = o.effective_duration();
  const Clock::time_point start = Clock::now();
  for (int i = 0; i < o.threads; ++i) {
    const auto at = static_cast<std::size_t>(i);
    if (pg) {
      threads.emplace_back(run_worker, std::ref(clients[at]), std::cref(workload), o.batch,
                           thread_seed(seed, i), std::ref(slots[at]), std::ref(control));
    } else {
#ifdef ALLOT_BENCH_WITH_REDIS
      threads.emplace_back(run_redis_worker, std::ref(redis[at]), std::cref(workload),
                           std::cref(limits), thread_seed(seed, i), std::ref(slots[at]),
                           std::ref(control));
#endif
    }
  }

  ProgressPrinter progress(!o.quiet);
  std::vector<TimelineRow> timeline;
  Counters previous;
  Clock::time_point previous_tick = start;
  const auto end_at = duration ? start + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(*duration))
                               : Clock::time_point::max();
  // Once a second: the progress line and a timeline row. Absolute deadlines,
  // so a slow monitor query does not make the ticks drift.
  for (int tick = 1;; ++tick) {
    Clock::time_point deadline = start + std::chrono::seconds(tick);
    if (deadline > end_at) deadline = end_at;
    if (control.wait_until(deadline, o.threads)) break;  // all workers done (--requests)
    const Clock::time_point now = Clock::now();
    if (now >= end_at) break;

    const Totals t = collect(slots);
    TimelineRow r;
    r.second = tick;
    r.granted_fast = t.counters.granted_fast - previous.granted_fast;
    r.granted_slow = t.counters.granted_slow - previous.granted_slow;
    r.denied = t.counters.denied() - previous.denied();
    if (sample_hot) r.hot_used = monitor->used(workload.hot_key);
    timeline.push_back(r);
    progress.show(progress_line(seconds_between(start, now),
                                t.counters.attempts - previous.attempts,
                                seconds_between(previous_tick, now), t));
    previous = t.counters;
    previous_tick = now;
  }
  control.request_stop();
  for (std::thread& th : threads) th.join();
  const Clock::time_point end = Clock::now();
  result.elapsed_s = seconds_between(start, end);

  const Totals t = collect(slots);
  progress.show(progress_line(result.elapsed_s, t.counters.attempts - previous.attempts,
                              seconds_between(previous_tick, end), t));
  progress.finish();
  // The part-second after the last tick, if anything happened in it.
  if (t.counters.attempts != previous.attempts) {
    TimelineRow r;
    r.second = static_cast<int>(timeline.size()) + 1;
    r.granted_fast = t.counters.granted_fast - previous.granted_fast;
    r.granted_slow = t.counters.granted_slow - previous.granted_slow;
    r.denied = t.counters.denied() - previous.denied();
    if (sample_hot) r.hot_used = monitor->used(workload.hot_key);
    timeline.push_back(r);
  }
  result.counters = t.counters;
  result.latency = t.latency;

  // Server side, after every worker transaction has committed (pg only:
  // for redis these stay n/a and do not count against the exit status).
  if (pg) {
    const ServerStats after = monitor->stats();
    if (before.promotions && before.demotions && after.promotions && after.demotions)
      result.path_flips =
          (*after.promotions - *before.promotions) + (*after.demotions - *before.demotions);
    if (have_seq_before) {
      result.grant_events = monitor->events_since(seq_before, "grant");
      result.deny_events = monitor->events_since(seq_before, "deny");
    }
    if (!workload.hot_key.empty()) {
      result.hot_used = monitor->used(workload.hot_key);
      result.hot_limit = monitor->total_limit(workload.hot_key);
    }
    result.checks = monitor->checks();
  }

  print_report(std::cout, result);
  std::cout.flush();
  if (!o.json_file.empty()) {
    std::ofstream f(o.json_file);
    f << report_json(result).dump(2) << "\n";
    if (!f) std::cerr << "allot-bench: cannot write " << o.json_file << "\n";
  }
  if (!o.timeline_file.empty()) {
    std::ofstream f(o.timeline_file);
    write_timeline_csv(f, timeline);
    if (!f) std::cerr << "allot-bench: cannot write " << o.timeline_file << "\n";
  }
  if (!o.chart_file.empty()) {
    std::ofstream f(o.chart_file);
    f << render_chart_svg(timeline, chart_labels(o, workload, result));
    if (!f) std::cerr << "allot-bench: cannot write " << o.chart_file << "\n";
  }
  return exit_status(result);
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  bench::Options options;
  try {
    options = bench::parse_options(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const bench::UsageError& e) {
    std::cerr << "allot-bench: " << e.what() << "\nTry 'allot-bench --help'.\n";
    return 2;
  }
  if (options.help) {
    std::cout << bench::usage_text("allot-bench");
    return 0;
  }
  if (options.list_backends) {
    std::cout << "pg\n";
    if (bench::kHaveRedis) std::cout << "redis\n";
    return 0;
  }
  if (options.backend == bench::Backend::redis && !bench::kHaveRedis) {
    std::cerr << "allot-bench: --backend redis is not available: this allot-bench was built "
                 "without hiredis\n(install libhiredis-dev and reconfigure with cmake; "
                 "'allot-bench --backends' lists what a build supports)\n";
    return bench::kExitUsage;
  }
  try {
    return bench::run(options);
  } catch (const std::exception& e) {
    // Anything unexpected (out of memory building a huge Zipf table...).
    std::cerr << "allot-bench: " << e.what() << "\n";
    return 3;
  }
}
