// The Redis + Lua comparison of --backend redis, pure part: the Lua script
// and the KEYS/ARGV of one EVALSHA. No hiredis here, so the unit tests check
// it without a Redis server (redis_backend.cpp sends it).
//
// The limiter is the usual multi-key sliding window: one sorted set per
// limited key, each member one grant scored by its time in milliseconds.
// The script drops members older than the window from every key, checks
// that every key has room for one more (all or nothing), and only then adds
// the redemption's member to every key and renews their PEXPIRE.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "options.hpp"

namespace bench {

// Prefix of every Redis key the benchmark touches: "allot-bench:voucher:V1".
inline constexpr const char* kRedisKeyPrefix = "allot-bench:";

// Limits per sliding window, by key class. The pg scenario's limits are
// totals (voucher), a day (user) and a sliding minute (shop); Redis
// limiters are usually sliding windows, so all share one 60 s window here:
// a sliding-minute stand-in with the same numbers.
struct RedisLimits {
  std::int64_t window_ms = 60000;
  std::int64_t voucher = 200;     // voucher:*
  std::int64_t hot = 3000;        // the hot voucher (its own limit, as in pg)
  std::int64_t voucher_user = 1;  // voucher:*/user:* (--keys-per-redemption 4)
  std::int64_t user = 5;          // user:*
  std::int64_t shop = 1500;       // shop:*
  std::string hot_key;            // empty: no hot voucher in the scenario
};

// From --limit-* (same defaults as --setup) and the scenario's hot voucher.
RedisLimits redis_limits(const Options& options);

// The limit of one key (as the scenario names it, without the prefix).
std::int64_t redis_limit_for(const std::string& key, const RedisLimits& limits);

// The Lua script: KEYS = the sorted sets; ARGV[1] = now (ms), ARGV[2] =
// window (ms), ARGV[3] = the member (unique per redemption), ARGV[3 + i] =
// the limit of KEYS[i]. Returns 1 (granted: added to every key) or 0
// (denied: nothing added).
const std::string& redis_limiter_script();

// One EVALSHA's KEYS and ARGV for a redemption of `keys`.
struct RedisCall {
  std::vector<std::string> keys;
  std::vector<std::string> argv;
};

RedisCall redis_limiter_call(const std::vector<std::string>& keys, const RedisLimits& limits,
                             std::int64_t now_ms, const std::string& member);

// The full argument vector of the command: EVALSHA sha numkeys KEYS... ARGV...
std::vector<std::string> redis_evalsha_args(const std::string& sha, const RedisCall& call);

}  // namespace bench
