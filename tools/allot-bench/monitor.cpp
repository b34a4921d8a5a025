#include "monitor.hpp"

#include <algorithm>

namespace bench {
namespace {

std::optional<std::int64_t> as_optional(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<std::int64_t>();
}

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// A result row as "a | b | c", NULLs as "NULL".
std::string row_text(const pqxx::row& r) {
  std::string out;
  for (pqxx::row::size_type i = 0; i < r.size(); ++i) {
    if (i) out += " | ";
    out += r[i].is_null() ? "NULL" : r[i].c_str();
  }
  return out;
}

}  // namespace

Monitor::Monitor(const std::string& dsn)
    : dsn_(dsn), conn_(std::make_unique<pqxx::connection>(dsn)) {}

template <class Body>
void Monitor::run(Body&& body) {
  try {
    pqxx::nontransaction tx(*conn_);
    body(tx);
    return;
  } catch (const pqxx::broken_connection&) {
    conn_ = std::make_unique<pqxx::connection>(dsn_);
  }
  pqxx::nontransaction tx(*conn_);
  body(tx);
}

std::optional<std::int64_t> Monitor::scalar(const std::string& sql,
                                            const std::vector<std::string>& params) {
  try {
    pqxx::result r;
    run([&](pqxx::nontransaction& tx) {
      if (params.empty())
        r = tx.exec(sql);
      else if (params.size() == 1)
        r = tx.exec_params(sql, params[0]);
      else
        r = tx.exec_params(sql, params[0], params[1]);
    });
    if (r.empty()) return std::nullopt;
    return as_optional(r[0][0]);
  } catch (const std::exception& e) {
    last_error_ = one_line(e.what());
    return std::nullopt;
  }
}

ServerStats Monitor::stats() {
  ServerStats s;
  try {
    run([&](pqxx::nontransaction& tx) {
      const pqxx::row r = tx.exec1("SELECT promotions, demotions FROM allot.stats");
      s.promotions = as_optional(r[0]);
      s.demotions = as_optional(r[1]);
    });
  } catch (const std::exception& e) {
    last_error_ = one_line(e.what());
  }
  return s;
}

std::optional<std::int64_t> Monitor::max_event_seq() {
  return scalar("SELECT coalesce(max(seq), 0) FROM allot.events", {});
}

std::optional<std::int64_t> Monitor::events_since(std::int64_t after, const std::string& kind) {
  return scalar("SELECT count(*) FROM allot.events WHERE seq > $1::bigint AND kind = $2",
                {std::to_string(after), kind});
}

std::optional<std::int64_t> Monitor::used(const std::string& key) {
  return scalar("SELECT coalesce(max(used), 0) FROM allot.usage WHERE key = $1", {key});
}

std::optional<std::int64_t> Monitor::total_limit(const std::string& key) {
  return scalar(
      "SELECT max(max) FROM allot.limits WHERE scope = $1 AND per IS NULL AND mode = 'enforce'",
      {key});
}

Checks Monitor::checks(std::size_t rows_to_show) {
  Checks c;
  const std::string limit = std::to_string(rows_to_show);
  try {
    pqxx::result v;
    run([&](pqxx::nontransaction& tx) {
      v = tx.exec(
          "SELECT key, limit_id, window_start, used, max FROM allot.violations "
          "WHERE mode = 'enforce' ORDER BY key, limit_id, window_start");
    });
    c.enforced_violations = static_cast<std::int64_t>(v.size());
    for (std::size_t i = 0; i < v.size() && i < rows_to_show; ++i)
      c.violation_rows.push_back(row_text(v[static_cast<pqxx::result::size_type>(i)]));
  } catch (const std::exception& e) {
    c.problems.push_back("allot.violations: " + one_line(e.what()));
  }
  try {
    pqxx::result v;
    run([&](pqxx::nontransaction& tx) {
      v = tx.exec("SELECT key, limit_id, window_start, counted, from_events FROM allot.verify()");
    });
    c.verify_count = static_cast<std::int64_t>(v.size());
    for (std::size_t i = 0; i < v.size() && i < rows_to_show; ++i)
      c.verify_rows.push_back(row_text(v[static_cast<pqxx::result::size_type>(i)]));
  } catch (const std::exception& e) {
    c.problems.push_back("allot.verify(): " + one_line(e.what()));
  }
  return c;
}

void Monitor::drop_limit(const LimitSpec& spec) {
  run([&](pqxx::nontransaction& tx) {
    if (spec.per.empty())
      tx.exec_params("SELECT allot.drop_limit($1)", spec.scope);
    else
      tx.exec_params("SELECT allot.drop_limit($1, $2::interval, $3)", spec.scope, spec.per,
                     spec.sliding);
  });
}

}  // namespace bench
