#include "redis_limiter.hpp"

#include "keyclass.hpp"

namespace bench {

RedisLimits redis_limits(const Options& o) {
  RedisLimits l;
  l.voucher = o.limits.voucher_total;
  l.hot = o.limits.hot_total;
  l.voucher_user = o.limits.per_user_per_voucher;
  l.user = o.limits.user_per_day;
  l.shop = o.limits.shop_per_minute;
  if (o.uses_hot_voucher()) l.hot_key = o.hot_key();
  return l;
}

std::int64_t redis_limit_for(const std::string& key, const RedisLimits& l) {
  if (!l.hot_key.empty() && key == l.hot_key) return l.hot;
  const std::string cls = key_class(key);
  if (cls == "voucher:*") return l.voucher;
  if (cls == "voucher:*/user:*") return l.voucher_user;
  if (cls == "user:*") return l.user;
  if (cls == "shop:*") return l.shop;
  // The scenarios name no other class; a key without a rule is not limited
  // in pg_allot either, so let it through.
  return INT64_MAX;
}

const std::string& redis_limiter_script() {
  // Check every key before touching any, so a denial adds nothing anywhere.
  // The member must be unique per redemption (the worker uses a random
  // per-thread nonce and a counter): ZADD of an existing member would only
  // move it, and the count would fall short.
  static const std::string script = R"lua(
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local member = ARGV[3]
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) + 1 > tonumber(ARGV[3 + i]) then
    return 0
  end
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, window)
end
return 1
)lua";
  return script;
}

RedisCall redis_limiter_call(const std::vector<std::string>& keys, const RedisLimits& l,
                             std::int64_t now_ms, const std::string& member) {
  RedisCall c;
  c.keys.reserve(keys.size());
  c.argv.reserve(3 + keys.size());
  c.argv.push_back(std::to_string(now_ms));
  c.argv.push_back(std::to_string(l.window_ms));
  c.argv.push_back(member);
  for (const std::string& k : keys) {
    c.keys.push_back(kRedisKeyPrefix + k);
    c.argv.push_back(std::to_string(redis_limit_for(k, l)));
  }
  return c;
}

std::vector<std::string> redis_evalsha_args(const std::string& sha, const RedisCall& call) {
  std::vector<std::string> args;
  args.reserve(3 + call.keys.size() + call.argv.size());
  args.push_back("EVALSHA");
  args.push_back(sha);
  args.push_back(std::to_string(call.keys.size()));
  args.insert(args.end(), call.keys.begin(), call.keys.end());
  args.insert(args.end(), call.argv.begin(), call.argv.end());
  return args;
}

}  // namespace bench
