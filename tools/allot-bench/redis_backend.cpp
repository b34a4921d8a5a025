#include "redis_backend.hpp"

#include <hiredis/hiredis.h>

#include <chrono>
#include <memory>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

namespace bench {
namespace {

using Clock = std::chrono::steady_clock;

std::uint64_t micros_between(Clock::time_point a, Clock::time_point b) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(b - a).count());
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// Sends argv as one command; a null reply means the connection failed.
Reply command(redisContext* ctx, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return Reply(static_cast<redisReply*>(
      redisCommandArgv(ctx, static_cast<int>(args.size()), argv.data(), lens.data())));
}

}  // namespace

RedisConnection::RedisConnection(const std::string& host, int port) : host_(host), port_(port) {
  connect();
  load_script();
}

RedisConnection::~RedisConnection() {
  if (ctx_) redisFree(ctx_);
}

RedisConnection::RedisConnection(RedisConnection&& o) noexcept
    : host_(std::move(o.host_)),
      port_(o.port_),
      ctx_(o.ctx_),
      sha_(std::move(o.sha_)),
      broken_(o.broken_) {
  o.ctx_ = nullptr;
}

void RedisConnection::connect() {
  if (ctx_) redisFree(ctx_);
  ctx_ = redisConnect(host_.c_str(), port_);
  if (!ctx_) throw std::runtime_error("redis: cannot allocate a connection");
  if (ctx_->err) {
    const std::string why = ctx_->errstr;
    redisFree(ctx_);
    ctx_ = nullptr;
    throw std::runtime_error("redis " + host_ + ":" + std::to_string(port_) + ": " + why);
  }
  broken_ = false;
}

void RedisConnection::load_script() {
  Reply r = command(ctx_, {"SCRIPT", "LOAD", redis_limiter_script()});
  if (!r) {
    broken_ = true;
    throw std::runtime_error(std::string("redis: SCRIPT LOAD: ") + ctx_->errstr);
  }
  if (r->type != REDIS_REPLY_STRING)
    throw std::runtime_error("redis: SCRIPT LOAD: " + (r->type == REDIS_REPLY_ERROR
                                                           ? std::string(r->str, r->len)
                                                           : std::string("unexpected reply")));
  sha_.assign(r->str, r->len);
}

bool RedisConnection::redeem(const RedisCall& call) {
  if (broken_ || !ctx_) {
    connect();
    load_script();
  }
  for (int attempt = 0;; ++attempt) {
    Reply r = command(ctx_, redis_evalsha_args(sha_, call));
    if (!r) {
      broken_ = true;  // hiredis cannot use a context after an I/O error
      throw std::runtime_error(std::string("redis: ") + ctx_->errstr);
    }
    if (r->type == REDIS_REPLY_INTEGER) {
      if (r->integer == 1) return true;
      if (r->integer == 0) return false;
      throw std::runtime_error("redis: limiter returned " + std::to_string(r->integer));
    }
    const std::string err =
        r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len) : "unexpected reply type";
    if (attempt == 0 && err.rfind("NOSCRIPT", 0) == 0) {
      load_script();
      continue;
    }
    throw std::runtime_error("redis: " + err);
  }
}

void run_redis_worker(RedisConnection& conn, const Workload& workload, const RedisLimits& limits,
                      std::uint64_t seed, WorkerSlot& slot, RunControl& control) {
  KeyGenerator keys(workload, seed);
  // Members must be unique across threads and runs on the same server (a
  // --seed run repeated within the window): a random nonce per thread.
  std::random_device rd;
  const std::string nonce = std::to_string((static_cast<std::uint64_t>(rd()) << 32) ^ rd()) + "-";
  std::uint64_t sequence = 0;
  static const std::vector<std::string> no_keys;

  while (control.claim(1) != 0) {
    const std::vector<std::string> k = keys.next();
    const bool is_hot = keys.last_was_hot();
    const RedisCall call =
        redis_limiter_call(k, limits, now_ms(), nonce + std::to_string(++sequence));
    const auto t0 = Clock::now();
    try {
      const bool granted = conn.redeem(call);
      const auto t1 = Clock::now();
      std::lock_guard<std::mutex> lock(slot.mu);
      ++slot.counters.calls;
      slot.latency.record(micros_between(t0, t1));
      // One path; counted as "fast". The script does not say which key
      // denied, so there are no denials by class.
      slot.counters.add_decision(granted, false, "fast", no_keys, is_hot);
    } catch (const std::exception& e) {
      {
        std::lock_guard<std::mutex> lock(slot.mu);
        ++slot.counters.failed_calls;
        slot.counters.add_error(e.what(), 1);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  {
    std::lock_guard<std::mutex> lock(slot.mu);
    slot.done = true;
  }
  control.worker_finished();
}

}  // namespace bench
