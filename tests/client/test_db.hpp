// Shared fixture of the client tests: a fresh database per test binary run
// (allot_client_test_<pid>) on the server of PGHOST/PGPORT/PGUSER, with
// pg_allot created in it, dropped at the end.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include <allot/client.hpp>
#include <pqxx/pqxx>

namespace allot_test {

// "dbname=allot_client_test_<pid>" (host, port, user from the environment)
const std::string& conninfo();
const std::string& db_name();

// A second connection to the test database, for checks and for sabotage.
class Admin {
 public:
  Admin();
  template <typename T, typename... Args>
  T value(const std::string& sql, Args&&... args) {
    pqxx::nontransaction n{conn_};
    pqxx::result r = n.exec_params(sql, std::forward<Args>(args)...);
    if (r.size() != 1) throw std::runtime_error("expected one row from: " + sql);
    return r[0][0].as<T>();
  }
  void exec(const std::string& sql) {
    pqxx::nontransaction n{conn_};
    n.exec(sql);
  }
  // Units counted for `key` over all its limits' current windows.
  long long used(const std::string& key);
  // Rows of allot.verify(): 0 when counters agree with the event log.
  long long verify_problems();
  // Rows in allot.txns for txn (1 once granted).
  long long txn_rows(const allot::Uuid& txn);
  // Terminates the backend with this pid and waits until it is gone.
  void kill_backend(int pid);
  // Makes the next `times` grants touching `key` fail inside the server with
  // SQLSTATE `sqlstate` (or sleep `sqlstate` = "sleep" for 2 s), via a
  // trigger on allot.txns. Returns the name of a sequence whose value tells
  // how many grants were attempted.
  std::string inject(const std::string& key, const std::string& sqlstate, long long times);

 private:
  pqxx::connection conn_;
};

// A key unique to the running test: "<kind>:<TestSuite>.<TestName><suffix>"
std::string key(const std::string& suffix = "", const std::string& kind = "voucher");

int backend_pid(pqxx::connection& c);

}  // namespace allot_test
