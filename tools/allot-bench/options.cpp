#include "options.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>

namespace bench {
namespace {

std::uint64_t parse_count(const std::string& name, const std::string& v, std::uint64_t min_value) {
  // strtoull accepts "-1" (wrapping) and leading spaces; insist on digits.
  if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos)
    throw UsageError(name + " needs a whole number, got '" + v + "'");
  errno = 0;
  const unsigned long long n = std::strtoull(v.c_str(), nullptr, 10);
  if (errno == ERANGE) throw UsageError(name + " is out of range: " + v);
  if (n < min_value)
    throw UsageError(name + " must be at least " + std::to_string(min_value) + ", got " + v);
  return n;
}

double parse_real(const std::string& name, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  const double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(d))
    throw UsageError(name + " needs a number, got '" + v + "'");
  return d;
}

int parse_int(const std::string& name, const std::string& v, int min_value, int max_value) {
  const std::uint64_t n = parse_count(name, v, static_cast<std::uint64_t>(min_value));
  if (n > static_cast<std::uint64_t>(max_value))
    throw UsageError(name + " must be at most " + std::to_string(max_value) + ", got " + v);
  return static_cast<int>(n);
}

std::int64_t parse_limit(const std::string& name, const std::string& v) {
  return static_cast<std::int64_t>(parse_count(name, v, 1));
}

ScenarioKind parse_scenario(const std::string& v) {
  if (v == "zipf") return ScenarioKind::zipf;
  if (v == "flash") return ScenarioKind::flash;
  if (v == "hot") return ScenarioKind::hot;
  if (v == "uniform") return ScenarioKind::uniform;
  throw UsageError("--scenario must be zipf, flash, hot or uniform, got '" + v + "'");
}

Backend parse_backend(const std::string& v) {
  if (v == "pg") return Backend::pg;
  if (v == "redis") return Backend::redis;
  throw UsageError("--backend must be pg or redis, got '" + v + "'");
}

// "HOST:PORT"; the last ':' splits, so "[::1]:6379" style is not needed for
// the loopback use it is meant for, but "::1:6379" still parses.
void parse_redis_address(const std::string& v, Options& o) {
  const std::size_t colon = v.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == v.size())
    throw UsageError("--redis needs HOST:PORT, got '" + v + "'");
  o.redis_host = v.substr(0, colon);
  o.redis_port = parse_int("--redis port", v.substr(colon + 1), 1, 65535);
}

}  // namespace

const char* to_string(Backend backend) {
  switch (backend) {
    case Backend::pg:
      return "pg";
    case Backend::redis:
      return "redis";
  }
  return "?";
}

const char* to_string(ScenarioKind kind) {
  switch (kind) {
    case ScenarioKind::zipf:
      return "zipf";
    case ScenarioKind::flash:
      return "flash";
    case ScenarioKind::hot:
      return "hot";
    case ScenarioKind::uniform:
      return "uniform";
  }
  return "?";
}

std::optional<double> Options::effective_duration() const {
  if (duration_s) return duration_s;
  if (requests) return std::nullopt;
  return 10.0;
}

Options parse_options(const std::vector<std::string>& args) {
  Options o;
  using Setter = std::function<void(const std::string&)>;
  // Options taking a value; each setter validates its own value.
  const std::map<std::string, Setter> valued = {
      {"--dsn", [&](const std::string& v) { o.dsn = v; }},
      {"--backend", [&](const std::string& v) { o.backend = parse_backend(v); }},
      {"--redis", [&](const std::string& v) { parse_redis_address(v, o); }},
      {"--threads", [&](const std::string& v) { o.threads = parse_int("--threads", v, 1, 1000); }},
      {"--duration",
       [&](const std::string& v) {
         const double d = parse_real("--duration", v);
         if (d <= 0) throw UsageError("--duration must be > 0, got " + v);
         o.duration_s = d;
       }},
      {"--requests", [&](const std::string& v) { o.requests = parse_count("--requests", v, 1); }},
      {"--scenario", [&](const std::string& v) { o.scenario = parse_scenario(v); }},
      // redeem_many takes at most 10,000 requests per call (API.md).
      {"--batch", [&](const std::string& v) { o.batch = parse_int("--batch", v, 1, 10000); }},
      {"--vouchers", [&](const std::string& v) { o.vouchers = parse_count("--vouchers", v, 1); }},
      {"--users", [&](const std::string& v) { o.users = parse_count("--users", v, 1); }},
      {"--shops", [&](const std::string& v) { o.shops = parse_count("--shops", v, 1); }},
      {"--zipf",
       [&](const std::string& v) {
         o.zipf_s = parse_real("--zipf", v);
         if (o.zipf_s < 0) throw UsageError("--zipf must be >= 0, got " + v);
       }},
      {"--hot-share",
       [&](const std::string& v) {
         o.hot_share = parse_real("--hot-share", v);
         if (o.hot_share < 0 || o.hot_share > 1)
           throw UsageError("--hot-share must be between 0 and 1, got " + v);
       }},
      {"--keys-per-redemption",
       [&](const std::string& v) {
         o.keys_per_redemption = parse_int("--keys-per-redemption", v, 3, 4);
       }},
      {"--hot-voucher",
       [&](const std::string& v) {
         if (v.empty() || v.find_first_of("/:*") != std::string::npos)
           throw UsageError("--hot-voucher must be a key id (no '/', ':' or '*'), got '" + v + "'");
         o.hot_voucher = v;
       }},
      {"--limit-voucher",
       [&](const std::string& v) { o.limits.voucher_total = parse_limit("--limit-voucher", v); }},
      {"--limit-hot",
       [&](const std::string& v) { o.limits.hot_total = parse_limit("--limit-hot", v); }},
      {"--limit-voucher-user",
       [&](const std::string& v) {
         o.limits.per_user_per_voucher = parse_limit("--limit-voucher-user", v);
       }},
      {"--limit-user-day",
       [&](const std::string& v) { o.limits.user_per_day = parse_limit("--limit-user-day", v); }},
      {"--limit-shop-minute",
       [&](const std::string& v) {
         o.limits.shop_per_minute = parse_limit("--limit-shop-minute", v);
       }},
      {"--shop-window",
       [&](const std::string& v) {
         if (v != "sliding" && v != "fixed")
           throw UsageError("--shop-window must be sliding or fixed, got '" + v + "'");
         o.limits.shop_sliding = v == "sliding";
       }},
      {"--seed", [&](const std::string& v) { o.seed = parse_count("--seed", v, 0); }},
      {"--json", [&](const std::string& v) { o.json_file = v; }},
      {"--timeline", [&](const std::string& v) { o.timeline_file = v; }},
      {"--chart", [&](const std::string& v) { o.chart_file = v; }},
  };
  const std::map<std::string, bool*> flags = {
      {"--setup", &o.setup},
      {"--reset", &o.reset},
      {"--quiet", &o.quiet},
      {"-q", &o.quiet},
      {"--help", &o.help},
      {"-h", &o.help},
      {"--backends", &o.list_backends},
  };

  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i];
    std::optional<std::string> value;
    // Both "--threads 8" and "--threads=8".
    if (const auto eq = name.find('='); name.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (auto f = flags.find(name); f != flags.end()) {
      if (value) throw UsageError(name + " takes no value");
      *f->second = true;
      continue;
    }
    auto s = valued.find(name);
    if (s == valued.end()) throw UsageError("unknown option '" + name + "'");
    if (!value) {
      if (i + 1 >= args.size()) throw UsageError(name + " needs a value");
      value = args[++i];
    }
    s->second(*value);
  }
  if (o.reset && !o.setup) throw UsageError("--reset only makes sense with --setup");
  if (o.backend == Backend::redis) {
    if (o.setup)
      throw UsageError(
          "--setup is for the pg backend; the redis backend passes its limits "
          "(--limit-*) with every call");
    if (o.batch > 1) throw UsageError("--batch is for the pg backend (allot.redeem_many)");
  }
  return o;
}

std::string usage_text(const std::string& program) {
  return "Usage: " + program + R"( [options]

Load generator for pg_allot: worker threads, each with its own allot::Client
(one connection), redeem random keys for a while, then print a report.

Connection and load:
  --backend NAME         pg (default): pg_allot, allot.redeem per redemption
                         redis: for comparison, the usual Redis + Lua
                           multi-key sliding-window limiter: one EVALSHA per
                           redemption over the same keys (prefixed
                           "allot-bench:"), each key a ZSET of recent grants;
                           limits per 60 s sliding window (see Limits). Not
                           durable, not transactional, no audit log: the
                           server checks below are n/a. Needs allot-bench
                           built with hiredis (see --backends)
  --dsn DSN              libpq connection string (default: empty, i.e. the
                         PGHOST/PGPORT/PGUSER/PGDATABASE environment)
  --redis HOST:PORT      redis backend: the server (default 127.0.0.1:6379)
  --threads N            worker threads, one connection each (default 4)
  --duration SECONDS     run this long (default 10 unless --requests is given)
  --requests N           stop after N redemptions in total (batch items count
                         one each); with --duration, whichever comes first
  --batch N              N > 1: allot.redeem_many with N requests per call;
                         1 (default): allot.redeem, one per call
  --seed N               seed of the key choice (default: random; printed)

Scenario (which keys each redemption names):
  --scenario NAME        zipf (default): voucher, user and shop each Zipf(s)
                         flash: a share of all traffic (--hot-share) on one hot
                           voucher, the rest Zipf vouchers; uniform users,
                           Zipf shops
                         hot: every redemption on the hot voucher; uniform
                           users and shops
                         uniform: voucher, user and shop uniform
  --vouchers N           number of vouchers (default 100000)
  --users N              number of users (default 1000000)
  --shops N              number of shops (default 10000)
  --zipf S               Zipf exponent (default 1.1; 0 = uniform)
  --hot-share F          flash: fraction of redemptions on the hot voucher
                         (default 0.5)
  --hot-voucher ID       id of the hot voucher (default HOT: voucher:HOT)
  --keys-per-redemption K  3: voucher, user, shop (default);
                         4: also the pair voucher:V/user:U

Limits (only with --setup):
  --setup                create the scenario's limits with set_limit first:
                           voucher:*          --limit-voucher N total (200)
                           voucher:<hot>      --limit-hot N total (3000; flash/hot)
                           voucher:*/user:*   --limit-voucher-user N total (1)
                           user:*             --limit-user-day N per 1 day (5)
                           shop:*             --limit-shop-minute N per 1 minute,
                                              --shop-window sliding (1500, sliding)
  --shop-window W        sliding (default) or fixed: a key with a sliding
                         limit is always decided on the slow path
                         set_limit updates existing limits in place and keeps
                         their usage
  --reset                with --setup: drop those limits first, so the run
                         starts from empty counters
  The redis backend (no --setup) applies the same numbers to every call, all
  per 60 s sliding window, a sliding-minute stand-in for the totals and the
  day (Redis limiters are usually sliding windows): voucher 200, the hot
  voucher 3000, voucher/user 1, user 5, shop 1500.

Output:
  --json FILE            also write the final report as JSON
  --timeline FILE        CSV, one row per second: second, granted_fast,
                         granted_slow, denied, hot_used (the hot voucher's
                         used in allot.usage, sampled on a separate connection)
  --chart FILE           SVG chart of the run: redemptions per second by path
                         and outcome, and the hot voucher's used against its
                         limit (open it in any browser)
  --quiet, -q            no live progress line
  --backends             print the backends this build supports, one a line
                         (redis only when built with hiredis), and exit
  --help, -h             this text

The progress line (stderr, once a second) shows elapsed time, req/s, granted,
denied, errors and p99 latency so far. The report (stdout) shows attempts,
granted by path, denied by path and by the class of each denied key, errors,
throughput, per-call latency percentiles, path flips (allot.stats promotions
+ demotions during the run), enforced violations and allot.verify() rows.

Exit status: 0 when sound; 1 when allot.violations has enforced rows,
allot.verify() is not empty, or any call failed; 2 for a bad command line
(or --backend redis in a build without hiredis); 3 when the server cannot be
reached or set up. With --backend redis the server checks are n/a and only
failed calls make the status 1.
)";
}

}  // namespace bench
