// The pg_allot C++ client: one Client owns one connection (RAII) and calls
// the SQL API of ../shared/API.md with prepared statements.
//
//   allot::Client q{"postgresql:///shop"};
//   allot::Decision d = q.redeem(allot::Uuid::random(), {"voucher:V1", "user:U9"});
//
// Calls that run in their own transaction are retried with the same txn on
// connection loss, serialization failure and deadlock (safe: redeem is
// idempotent on txn), as RetryPolicy allows. Calls inside the caller's
// pqxx::work are never retried: the caller owns that transaction.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "allot/errors.hpp"
#include "allot/types.hpp"

namespace allot {

struct RetryPolicy {
  int max_attempts = 5;                         // 1 = no retry
  std::chrono::milliseconds first_backoff{10};  // doubled after each failed attempt
  std::chrono::milliseconds max_backoff{1000};
};

// Listeners are called after each decision or error, on the calling thread.
struct Listeners {
  std::function<void(const Request&, const Decision&)> on_grant;
  std::function<void(const Request&, const Decision&)> on_denial;
  std::function<void(const std::exception&)> on_error;  // also for errors that are retried
};

class Client {
 public:
  explicit Client(const std::string& connection_string, RetryPolicy retry = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;

  // In its own transaction (committed before returning).
  Decision redeem(const Uuid& txn, const std::vector<std::string>& keys, std::int64_t amount = 1);
  // Inside the caller's transaction: commits or rolls back with it.
  Decision redeem(pqxx::work& tx, const Uuid& txn, const std::vector<std::string>& keys,
                  std::int64_t amount = 1);

  std::vector<ItemDecision> redeem_many(const std::vector<Request>& requests);
  std::vector<ItemDecision> redeem_many(pqxx::work& tx, const std::vector<Request>& requests);

  bool reverse(const Uuid& txn, const std::string& reason = "");
  bool reverse(pqxx::work& tx, const Uuid& txn, const std::string& reason = "");

  std::vector<KeyCheck> can_redeem(const std::vector<std::string>& keys, std::int64_t amount = 1);

  // per == 0: a total over `valid`. Returns the limit id.
  std::int64_t set_limit(const std::string& scope, std::int64_t max,
                         std::chrono::microseconds per = std::chrono::microseconds{0},
                         const LimitOptions& options = {});
  // per as a PostgreSQL interval text, for calendar windows: "1 month".
  std::int64_t set_limit(const std::string& scope, std::int64_t max,
                         const std::string& per_interval, const LimitOptions& options = {});
  int drop_limit(const std::string& scope,
                 std::chrono::microseconds per = std::chrono::microseconds{0},
                 bool sliding = false);

  void set_listeners(Listeners listeners);
  const RetryPolicy& retry_policy() const;
  pqxx::connection& connection();  // for the caller's own pqxx::work

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace allot
