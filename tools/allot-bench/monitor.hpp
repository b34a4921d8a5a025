// The benchmark's own view of the server, on a connection separate from the
// workers': allot.stats, the event log, allot.usage of the hot voucher,
// allot.violations and allot.verify(). Every query may fail (a missing
// privilege, stats without shared_preload_libraries); the answers are
// optional so the report can say "n/a" instead of aborting the run.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "scenario.hpp"
#include "server_facts.hpp"

namespace bench {

class Monitor {
 public:
  explicit Monitor(const std::string& dsn);

  ServerStats stats();
  std::optional<std::int64_t> max_event_seq();
  // Events of `kind` with seq > after (seq is not commit order, but every
  // transaction of the run started after `after` was read).
  std::optional<std::int64_t> events_since(std::int64_t after, const std::string& kind);
  // used of `key` in allot.usage (its largest current window); 0 when unused.
  std::optional<std::int64_t> used(const std::string& key);
  // max of the total limit whose scope is exactly `key`.
  std::optional<std::int64_t> total_limit(const std::string& key);
  Checks checks(std::size_t rows_to_show = 10);

  // --setup --reset: drop a limit by its interval text (the client's
  // drop_limit takes a std::chrono duration; "1 day" is clearer as text).
  void drop_limit(const LimitSpec& spec);

  // The last error of a query that returned nullopt.
  const std::string& last_error() const { return last_error_; }

 private:
  std::optional<std::int64_t> scalar(const std::string& sql,
                                     const std::vector<std::string>& params);
  // Runs body(tx) in a nontransaction (each query sees what is committed
  // now). A broken connection (a restarted server, pg_terminate_backend) is
  // replaced and the body run once more: every body is read-only or, for
  // drop_limit, idempotent.
  template <class Body>
  void run(Body&& body);

  std::string dsn_;
  std::unique_ptr<pqxx::connection> conn_;
  std::string last_error_;
};

}  // namespace bench
