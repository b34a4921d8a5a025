#include "redis_limiter.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#ifdef ALLOT_BENCH_WITH_REDIS
#include <hiredis/hiredis.h>
#endif

#include "options.hpp"
#include "report.hpp"
#include "scenario.hpp"

namespace bench {
namespace {

TEST(RedisLimiter, LimitsFollowTheOptions) {
  RedisLimits l = redis_limits(parse_options({}));
  EXPECT_EQ(l.window_ms, 60000);
  EXPECT_EQ(l.voucher, 200);
  EXPECT_EQ(l.user, 5);
  EXPECT_EQ(l.shop, 1500);
  EXPECT_EQ(l.voucher_user, 1);
  EXPECT_EQ(l.hot_key, "");  // zipf has no hot voucher

  l = redis_limits(parse_options({"--backend", "redis", "--scenario", "flash", "--hot-voucher",
                                  "SALE", "--limit-hot", "50", "--limit-user-day", "9"}));
  EXPECT_EQ(l.hot_key, "voucher:SALE");
  EXPECT_EQ(l.hot, 50);
  EXPECT_EQ(l.user, 9);
}

TEST(RedisLimiter, LimitByKeyClassAndTheHotVoucherHasItsOwn) {
  const RedisLimits l = redis_limits(parse_options({"--scenario", "hot"}));
  EXPECT_EQ(redis_limit_for("voucher:V17", l), 200);
  EXPECT_EQ(redis_limit_for("voucher:HOT", l), 3000);
  EXPECT_EQ(redis_limit_for("voucher:V17/user:U3", l), 1);
  EXPECT_EQ(redis_limit_for("user:U3", l), 5);
  EXPECT_EQ(redis_limit_for("shop:S9", l), 1500);
}

TEST(RedisLimiter, CallNamesTheScenarioKeysWithTheirLimits) {
  const RedisLimits l = redis_limits(parse_options({}));
  const RedisCall c =
      redis_limiter_call({"voucher:V1", "user:U2", "shop:S3"}, l, 1700000000123, "abc-7");
  EXPECT_EQ(c.keys, (std::vector<std::string>{"allot-bench:voucher:V1", "allot-bench:user:U2",
                                              "allot-bench:shop:S3"}));
  EXPECT_EQ(c.argv,
            (std::vector<std::string>{"1700000000123", "60000", "abc-7", "200", "5", "1500"}));

  const std::vector<std::string> args = redis_evalsha_args("deadbeef", c);
  EXPECT_EQ(args,
            (std::vector<std::string>{"EVALSHA", "deadbeef", "3", "allot-bench:voucher:V1",
                                      "allot-bench:user:U2", "allot-bench:shop:S3", "1700000000123",
                                      "60000", "abc-7", "200", "5", "1500"}));
}

TEST(RedisLimiter, CallFromTheKeyGeneratorHasOneLimitPerKey) {
  for (const char* k : {"3", "4"}) {
    const Options o = parse_options({"--scenario", "flash", "--keys-per-redemption", k});
    const Workload w = make_workload(o);
    KeyGenerator gen(w, 42);
    const RedisLimits l = redis_limits(o);
    for (int i = 0; i < 50; ++i) {
      const std::vector<std::string> keys = gen.next();
      const RedisCall c = redis_limiter_call(keys, l, 1, "m");
      ASSERT_EQ(c.keys.size(), keys.size());
      ASSERT_EQ(c.argv.size(), 3 + keys.size());
      EXPECT_EQ(c.argv[3], gen.last_was_hot() ? "3000" : "200");
    }
  }
}

TEST(RedisLimiter, ScriptChecksEveryKeyBeforeAddingToAny) {
  const std::string& s = redis_limiter_script();
  const std::size_t trim = s.find("ZREMRANGEBYSCORE");
  const std::size_t card = s.find("ZCARD");
  const std::size_t deny = s.find("return 0");
  const std::size_t add = s.find("ZADD");
  const std::size_t expire = s.find("PEXPIRE");
  const std::size_t grant = s.find("return 1");
  for (std::size_t p : {trim, card, deny, add, expire, grant}) ASSERT_NE(p, std::string::npos);
  EXPECT_LT(trim, card);
  EXPECT_LT(card, deny);
  EXPECT_LT(deny, add);  // every check (and the early denial) before the first ZADD
  EXPECT_LT(add, expire);
  EXPECT_LT(expire, grant);
  EXPECT_NE(s.find("ARGV[3 + i]"), std::string::npos);  // per-key limit
}

TEST(RedisLimiter, OnlyThePgBackendTakesSetupAndBatches) {
  const Options o = parse_options({"--backend", "redis", "--redis", "10.0.0.5:7000"});
  EXPECT_EQ(o.backend, Backend::redis);
  EXPECT_EQ(o.redis_host, "10.0.0.5");
  EXPECT_EQ(o.redis_port, 7000);
  EXPECT_EQ(parse_options({}).backend, Backend::pg);
  EXPECT_EQ(parse_options({}).redis_port, 6379);
  EXPECT_TRUE(parse_options({"--backends"}).list_backends);
  EXPECT_THROW(parse_options({"--backend", "memcached"}), UsageError);
  EXPECT_THROW(parse_options({"--redis", "localhost"}), UsageError);
  EXPECT_THROW(parse_options({"--redis", "localhost:0"}), UsageError);
  EXPECT_THROW(parse_options({"--redis", ":6379"}), UsageError);
  EXPECT_THROW(parse_options({"--backend", "redis", "--setup"}), UsageError);
  EXPECT_THROW(parse_options({"--backend", "redis", "--batch", "10"}), UsageError);
}

TEST(RedisLimiter, ServerChecksAreNotApplicableAndDoNotFail) {
  RunResult r;  // no checks ran: unknown for pg, n/a for redis
  EXPECT_EQ(exit_status(r), 1);
  r.options = parse_options({"--backend", "redis"});
  EXPECT_EQ(exit_status(r), 0);
  EXPECT_EQ(report_json(r)["server_checks"], "n/a");
  EXPECT_EQ(report_json(r)["backend"], "redis");
  r.counters.add_error("redis: Connection reset by peer", 1);
  EXPECT_EQ(exit_status(r), 1);  // failed calls still count
}

#ifdef ALLOT_BENCH_WITH_REDIS
// Runs the script on a real server, only when REDIS_TEST_PORT names one
// (127.0.0.1); the normal suite skips it. It flushes the current database.
struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

Reply run(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return Reply(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(args.size()), argv.data(), lens.data())));
}

TEST(RedisLimiterLive, AllOrNothingSlidingWindow) {
  const char* port = std::getenv("REDIS_TEST_PORT");
  if (!port || !*port) GTEST_SKIP() << "REDIS_TEST_PORT not set";
  std::unique_ptr<redisContext, ContextDeleter> ctx(redisConnect("127.0.0.1", std::atoi(port)));
  ASSERT_TRUE(ctx && !ctx->err) << (ctx ? ctx->errstr : "no context");
  redisContext* c = ctx.get();
  ASSERT_TRUE(run(c, {"FLUSHDB"}));
  Reply sha = run(c, {"SCRIPT", "LOAD", redis_limiter_script()});
  ASSERT_TRUE(sha && sha->type == REDIS_REPLY_STRING);
  const std::string s(sha->str, sha->len);

  RedisLimits l;
  l.user = 2;
  l.window_ms = 1000;
  const std::int64_t t = 1000000;
  auto redeem = [&](const std::vector<std::string>& keys, std::int64_t now, const std::string& m) {
    Reply r = run(c, redis_evalsha_args(s, redis_limiter_call(keys, l, now, m)));
    EXPECT_TRUE(r && r->type == REDIS_REPLY_INTEGER);
    return r ? r->integer : -1;
  };
  auto card = [&](const std::string& key) {
    Reply r = run(c, {"ZCARD", kRedisKeyPrefix + key});
    return r ? r->integer : -1;
  };
  EXPECT_EQ(redeem({"voucher:V1", "user:U1", "shop:S1"}, t, "a"), 1);
  EXPECT_EQ(redeem({"voucher:V2", "user:U1", "shop:S1"}, t + 1, "b"), 1);
  // user:U1 is full: denied, and nothing is added to the other keys.
  EXPECT_EQ(redeem({"voucher:V3", "user:U1", "shop:S1"}, t + 2, "c"), 0);
  EXPECT_EQ(card("voucher:V3"), 0);
  EXPECT_EQ(card("shop:S1"), 2);
  // A window later the first grant has slid out.
  EXPECT_EQ(redeem({"voucher:V3", "user:U1", "shop:S1"}, t + 1000, "d"), 1);
  EXPECT_EQ(card("user:U1"), 2);
  Reply ttl = run(c, {"PTTL", kRedisKeyPrefix + std::string("user:U1")});
  ASSERT_TRUE(ttl && ttl->type == REDIS_REPLY_INTEGER);
  EXPECT_GT(ttl->integer, 0);
  EXPECT_LE(ttl->integer, 1000);
}
#endif

}  // namespace
}  // namespace bench
