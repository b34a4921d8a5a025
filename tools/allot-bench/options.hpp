// Command-line options of allot-bench. Parsing is pure (no I/O, no
// connection) so the tests can drive it with plain argument lists.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench {

enum class ScenarioKind { zipf, flash, hot, uniform };

const char* to_string(ScenarioKind kind);

// What decides each redemption: pg_allot (allot.redeem over libpq), or, for
// comparison, the usual Redis + Lua multi-key sliding-window limiter (one
// EVALSHA per redemption; see redis_limiter.hpp).
enum class Backend { pg, redis };

const char* to_string(Backend backend);

// The limits --setup creates; defaults are those of the flash-sale demo.
struct LimitValues {
  std::int64_t voucher_total = 200;       // voucher:*            total
  std::int64_t hot_total = 3000;          // voucher:<hot>        total (flash, hot)
  std::int64_t per_user_per_voucher = 1;  // voucher:*/user:*     total
  std::int64_t user_per_day = 5;          // user:*               per 1 day
  std::int64_t shop_per_minute = 1500;    // shop:*               per 1 minute
  bool shop_sliding = true;               // the minute sliding (or fixed: --shop-window)
};

struct Options {
  Backend backend = Backend::pg;
  std::string dsn;                       // empty: libpq defaults, i.e. the PG* environment
  std::string redis_host = "127.0.0.1";  // --redis HOST:PORT (redis backend)
  int redis_port = 6379;
  int threads = 4;
  std::optional<double> duration_s;       // when neither this nor requests: 10 s
  std::optional<std::uint64_t> requests;  // total redemptions (batch items) over all threads
  ScenarioKind scenario = ScenarioKind::zipf;
  int batch = 1;  // > 1: redeem_many with this many requests per call
  std::uint64_t vouchers = 100000;
  std::uint64_t users = 1000000;
  std::uint64_t shops = 10000;
  double zipf_s = 1.1;
  double hot_share = 0.5;
  int keys_per_redemption = 3;
  std::string hot_voucher = "HOT";  // id of the flash sale's voucher
  bool setup = false;
  bool reset = false;  // with --setup: drop the scenario's limits first (fresh counters)
  LimitValues limits;
  std::optional<std::uint64_t> seed;
  std::string json_file;
  std::string timeline_file;
  std::string chart_file;  // --chart: SVG of the timeline
  bool quiet = false;
  bool help = false;
  bool list_backends = false;  // --backends: print the compiled-in backends and exit

  // The run's duration: the given one, 10 s by default, none with only --requests.
  std::optional<double> effective_duration() const;
  bool uses_hot_voucher() const {
    return scenario == ScenarioKind::flash || scenario == ScenarioKind::hot;
  }
  std::string hot_key() const { return "voucher:" + hot_voucher; }
};

// Thrown for bad command lines; main prints it with a hint to --help.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// args excludes the program name.
Options parse_options(const std::vector<std::string>& args);

std::string usage_text(const std::string& program);

}  // namespace bench
