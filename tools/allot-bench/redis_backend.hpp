// --backend redis: one hiredis connection per worker thread, each redemption
// one EVALSHA of the limiter script (redis_limiter.hpp). Built only when
// hiredis is found (ALLOT_BENCH_WITH_REDIS).
#pragma once

#include <cstdint>
#include <string>

#include "redis_limiter.hpp"
#include "scenario.hpp"
#include "stats.hpp"
#include "worker.hpp"

struct redisContext;

namespace bench {

class RedisConnection {
 public:
  // Connects and loads the limiter script; throws std::runtime_error.
  RedisConnection(const std::string& host, int port);
  ~RedisConnection();
  RedisConnection(RedisConnection&& other) noexcept;
  RedisConnection& operator=(RedisConnection&&) = delete;
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // One EVALSHA of the limiter: true when granted. Reloads the script once
  // on NOSCRIPT (a SCRIPT FLUSH or a restarted server); throws
  // std::runtime_error on any other error, after which the connection
  // reconnects on the next call.
  bool redeem(const RedisCall& call);

 private:
  void connect();
  void load_script();

  std::string host_;
  int port_;
  redisContext* ctx_ = nullptr;
  std::string sha_;
  bool broken_ = false;
};

void run_redis_worker(RedisConnection& conn, const Workload& workload, const RedisLimits& limits,
                      std::uint64_t seed, WorkerSlot& slot, RunControl& control);

}  // namespace bench
