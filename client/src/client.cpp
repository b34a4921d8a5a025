// allot::Client: one connection, prepared statements, retries, listeners.
//
// Retrying is safe because every call this client retries is idempotent on
// the server:
//   - redeem / redeem_many: idempotent on txn. If an attempt was granted and
//     committed but the reply was lost (pqxx::in_doubt_error: the connection
//     broke during COMMIT), the retry returns the stored decision with
//     replayed = true and consumes nothing new; if it was rolled back, the
//     retry is decided afresh. Either way the txn is counted at most once.
//     (So after an in-doubt commit a caller may see replayed = true for its
//     own first grant: that is the honest answer "already granted".)
//   - reverse: idempotent on txn (a second reversal returns false).
//   - set_limit: updates the same (scope, per, sliding, valid) in place.
//   - drop_limit: dropping twice drops nothing more (the count may be 0).
//   - can_redeem: read-only.
// Serialization failures and deadlocks (40001, 40P01) roll the attempt back
// entirely, so retrying them is safe for any call.
//
// Calls that take the caller's pqxx::work are never retried: the caller owns
// that transaction, and a failed statement has aborted it.
//
// A Client is not thread-safe (one connection): use one per thread.
#include "allot/client.hpp"

#include <algorithm>
#include <thread>

#include "encode.hpp"
#include "error_map.hpp"
#include "result.hpp"
#include "statements.hpp"

namespace allot {

using detail::MappedError;

namespace detail {

// The state of a Client (Client::Impl is this; a separate name so that the
// helpers below, outside the class, may use it).
struct ClientCore {
  std::string conninfo;
  RetryPolicy retry;
  Listeners listeners;
  std::unique_ptr<pqxx::connection> conn;

  // The connection, (re)connected and with every statement prepared.
  pqxx::connection& live() {
    if (!conn || !conn->is_open()) {
      conn.reset();
      auto c = std::make_unique<pqxx::connection>(conninfo);
      for (const auto& s : detail::kAll) c->prepare(s.name, s.sql);
      conn = std::move(c);
    }
    return *conn;
  }

  void check_own(const pqxx::work& tx) const {
    if (!conn || &tx.conn() != conn.get())
      throw Error("allot::Client: the pqxx::work must be on this client's connection()");
  }

  void notify_error(const MappedError& m) const {
    if (!listeners.on_error) return;
    try {
      std::rethrow_exception(m.make());
    } catch (const std::exception& e) {
      listeners.on_error(e);
    }
  }

  void notify_decision(const Request& req, const Decision& d) const {
    if (d.granted) {
      if (listeners.on_grant) listeners.on_grant(req, d);
    } else if (listeners.on_denial) {
      listeners.on_denial(req, d);
    }
  }

  bool wants_decisions() const { return listeners.on_grant || listeners.on_denial; }

  std::chrono::milliseconds backoff(int failed_attempts) const {
    auto wait = retry.first_backoff;
    for (int i = 1; i < failed_attempts && wait < retry.max_backoff; ++i) wait *= 2;
    return std::min(wait, retry.max_backoff);
  }

  // Runs attempt() until it succeeds, fails for good, or the RetryPolicy
  // allows no more attempts. Every failure reaches on_error; the last one
  // is thrown as an allot:: exception.
  template <typename F>
  auto with_retries(F&& attempt) -> decltype(attempt()) {
    const int max_attempts = std::max(1, retry.max_attempts);
    for (int n = 1;; ++n) {
      try {
        return attempt();
      } catch (...) {
        MappedError m = detail::map_exception(std::current_exception());
        // No pqxx::work is alive here (it was local to attempt()).
        if (m.connection_lost) conn.reset();
        const bool again = m.retryable && n < max_attempts;
        if (!again && m.retryable && n > 1)
          m.message = "gave up after " + std::to_string(n) + " attempts: " + m.message;
        notify_error(m);
        if (!again) m.raise();
        std::this_thread::sleep_for(backoff(n));
      }
    }
  }

  // body(pqxx::work&) in its own transaction, committed; retried.
  template <typename F>
  auto in_own_txn(F&& body) -> decltype(body(std::declval<pqxx::work&>())) {
    return with_retries([&] {
      pqxx::work tx{live()};
      auto result = body(tx);
      tx.commit();
      return result;
    });
  }

  // body(tx) in the caller's transaction: errors mapped, never retried.
  template <typename F>
  auto in_callers_txn(pqxx::work& tx, F&& body) -> decltype(body(tx)) {
    try {
      check_own(tx);
      return body(tx);
    } catch (...) {
      MappedError m = detail::map_exception(std::current_exception());
      notify_error(m);
      m.raise();
    }
  }
};

}  // namespace detail

struct Client::Impl : detail::ClientCore {};

namespace {

Decision exec_redeem(pqxx::work& tx, const Uuid& txn, const std::string& keys_literal,
                     std::int64_t amount) {
  pqxx::result r = tx.exec_prepared(detail::kRedeem.name, txn.str(), keys_literal, amount);
  if (r.size() != 1) throw pqxx::unexpected_rows("allot.redeem returned no row");
  return detail::decision_from_row(r[0]);
}

std::vector<ItemDecision> exec_redeem_many(pqxx::work& tx, const std::string& json) {
  pqxx::result r = tx.exec_prepared(detail::kRedeemMany.name, json);
  std::vector<ItemDecision> out;
  out.reserve(r.size());
  for (const auto& row : r) out.push_back(detail::item_decision_from_row(row));
  return out;
}

bool exec_reverse(pqxx::work& tx, const Uuid& txn, const std::string& reason) {
  detail::check_no_nul(reason, "reason");
  const char* reason_param = reason.empty() ? nullptr : reason.c_str();
  return detail::single_value<bool>(
      tx.exec_prepared(detail::kReverse.name, txn.str(), reason_param));
}

}  // namespace

Client::Client(const std::string& connection_string, RetryPolicy retry)
    : impl_(std::make_unique<Impl>()) {
  impl_->conninfo = connection_string;
  impl_->retry = retry;
  impl_->with_retries([this] {
    impl_->live();
    return 0;
  });
}

Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

namespace {
// (A template so that the private Client::Impl is never named here.)
template <typename ImplPtr>
detail::ClientCore& checked(const ImplPtr& impl) {
  if (!impl) throw Error("allot::Client: used after it was moved from");
  return *impl;
}
}  // namespace

Decision Client::redeem(const Uuid& txn, const std::vector<std::string>& keys,
                        std::int64_t amount) {
  detail::ClientCore& self = checked(impl_);
  Decision d = self.in_own_txn([&](pqxx::work& tx) {
    return exec_redeem(tx, txn, detail::text_array_literal(keys), amount);
  });
  if (self.wants_decisions()) self.notify_decision(Request{txn, keys, amount}, d);
  return d;
}

Decision Client::redeem(pqxx::work& tx, const Uuid& txn, const std::vector<std::string>& keys,
                        std::int64_t amount) {
  detail::ClientCore& self = checked(impl_);
  Decision d = self.in_callers_txn(tx, [&](pqxx::work& t) {
    return exec_redeem(t, txn, detail::text_array_literal(keys), amount);
  });
  if (self.wants_decisions()) self.notify_decision(Request{txn, keys, amount}, d);
  return d;
}

namespace {
void notify_items(const detail::ClientCore& self, const std::vector<Request>& requests,
                  const std::vector<ItemDecision>& items) {
  for (const ItemDecision& item : items) {
    if (item.error) {
      if (self.listeners.on_error) self.listeners.on_error(Error(*item.error));
      continue;
    }
    if (item.idx >= 0 && static_cast<std::size_t>(item.idx) < requests.size())
      self.notify_decision(requests[static_cast<std::size_t>(item.idx)], item);
  }
}
}  // namespace

std::vector<ItemDecision> Client::redeem_many(const std::vector<Request>& requests) {
  detail::ClientCore& self = checked(impl_);
  if (requests.empty()) return {};
  auto items = self.in_own_txn(
      [&](pqxx::work& tx) { return exec_redeem_many(tx, detail::redeem_many_json(requests)); });
  notify_items(self, requests, items);
  return items;
}

std::vector<ItemDecision> Client::redeem_many(pqxx::work& tx,
                                              const std::vector<Request>& requests) {
  detail::ClientCore& self = checked(impl_);
  if (requests.empty()) return {};
  auto items = self.in_callers_txn(
      tx, [&](pqxx::work& t) { return exec_redeem_many(t, detail::redeem_many_json(requests)); });
  notify_items(self, requests, items);
  return items;
}

bool Client::reverse(const Uuid& txn, const std::string& reason) {
  return checked(impl_).in_own_txn([&](pqxx::work& tx) { return exec_reverse(tx, txn, reason); });
}

bool Client::reverse(pqxx::work& tx, const Uuid& txn, const std::string& reason) {
  return checked(impl_).in_callers_txn(tx,
                                       [&](pqxx::work& t) { return exec_reverse(t, txn, reason); });
}

std::vector<KeyCheck> Client::can_redeem(const std::vector<std::string>& keys,
                                         std::int64_t amount) {
  detail::ClientCore& self = checked(impl_);
  return self.in_own_txn([&](pqxx::work& tx) {
    pqxx::result r =
        tx.exec_prepared(detail::kCanRedeem.name, detail::text_array_literal(keys), amount);
    std::vector<KeyCheck> out;
    out.reserve(r.size());
    for (const auto& row : r) out.push_back(detail::key_check_from_row(row));
    return out;
  });
}

namespace {
std::int64_t exec_set_limit(detail::ClientCore& self, const std::string& scope, std::int64_t max,
                            const std::optional<std::string>& per, const LimitOptions& o) {
  return self.in_own_txn([&](pqxx::work& tx) {
    detail::check_no_nul(scope, "scope");
    if (per) detail::check_no_nul(*per, "per");
    if (o.valid) detail::check_no_nul(*o.valid, "valid");
    detail::check_no_nul(o.mode, "mode");
    return detail::single_value<std::int64_t>(
        tx.exec_prepared(detail::kSetLimit.name, scope, max, per ? per->c_str() : nullptr,
                         o.sliding, o.valid ? o.valid->c_str() : nullptr, o.mode));
  });
}
}  // namespace

std::int64_t Client::set_limit(const std::string& scope, std::int64_t max,
                               std::chrono::microseconds per, const LimitOptions& options) {
  return exec_set_limit(checked(impl_), scope, max, detail::interval_text(per), options);
}

std::int64_t Client::set_limit(const std::string& scope, std::int64_t max,
                               const std::string& per_interval, const LimitOptions& options) {
  return exec_set_limit(checked(impl_), scope, max, per_interval, options);
}

int Client::drop_limit(const std::string& scope, std::chrono::microseconds per, bool sliding) {
  detail::ClientCore& self = checked(impl_);
  const std::optional<std::string> per_text = detail::interval_text(per);
  return self.in_own_txn([&](pqxx::work& tx) {
    detail::check_no_nul(scope, "scope");
    return detail::single_value<int>(tx.exec_prepared(
        detail::kDropLimit.name, scope, per_text ? per_text->c_str() : nullptr, sliding));
  });
}

void Client::set_listeners(Listeners listeners) { checked(impl_).listeners = std::move(listeners); }

const RetryPolicy& Client::retry_policy() const { return checked(impl_).retry; }

pqxx::connection& Client::connection() {
  detail::ClientCore& self = checked(impl_);
  return *self.with_retries([&] { return &self.live(); });
}

}  // namespace allot
