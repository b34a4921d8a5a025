// SQLSTATE and libpqxx exception -> allot exception mapping.
#include "error_map.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "allot/errors.hpp"

namespace allot::detail {
namespace {

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

MappedError from_sqlstate(const std::string& message, const std::string& state) {
  MappedError m;
  m.message = trimmed(message);
  m.sqlstate = state;
  if (starts_with(state, "22")) {
    m.kind = MappedError::Kind::bad_request;
  } else if (state == "23505") {
    m.kind = MappedError::Kind::conflict;
  } else if (state == "40001" || state == "40P01" || state == "40003") {
    // serialization_failure, deadlock_detected, statement_completion_unknown
    m.retryable = true;
  } else if (starts_with(state, "08") || state == "57P01" || state == "57P02" || state == "57P03") {
    // connection exceptions; admin/crash shutdown, cannot connect now
    m.kind = MappedError::Kind::connection;
    m.retryable = true;
    m.connection_lost = true;
  }
  return m;
}

std::string rollback_sqlstate(const pqxx::transaction_rollback& e) {
  if (dynamic_cast<const pqxx::serialization_failure*>(&e)) return "40001";
  if (dynamic_cast<const pqxx::deadlock_detected*>(&e)) return "40P01";
  if (dynamic_cast<const pqxx::statement_completion_unknown*>(&e)) return "40003";
  return "40000";
}

// In case a libpqxx sql_error subclass comes without its SQLSTATE.
std::string implied_sqlstate(const pqxx::sql_error& e) {
  if (dynamic_cast<const pqxx::unique_violation*>(&e)) return "23505";
  if (dynamic_cast<const pqxx::data_exception*>(&e)) return "22000";
  return "";
}

}  // namespace

std::exception_ptr MappedError::make() const {
  switch (kind) {
    case Kind::bad_request:
      return std::make_exception_ptr(BadRequest(message, sqlstate));
    case Kind::conflict:
      return std::make_exception_ptr(Conflict(message, sqlstate));
    case Kind::connection:
      return std::make_exception_ptr(ConnectionError(message, sqlstate));
    case Kind::other:
      break;
  }
  return std::make_exception_ptr(Error(message, sqlstate));
}

void MappedError::raise() const { std::rethrow_exception(make()); }

MappedError map_exception(std::exception_ptr e) {
  MappedError m;
  try {
    std::rethrow_exception(e);
  } catch (const BadRequest& x) {
    m = {MappedError::Kind::bad_request, x.what(), x.sqlstate()};
  } catch (const Conflict& x) {
    m = {MappedError::Kind::conflict, x.what(), x.sqlstate()};
  } catch (const ConnectionError& x) {
    m = {MappedError::Kind::connection, x.what(), x.sqlstate()};
  } catch (const Error& x) {
    m = {MappedError::Kind::other, x.what(), x.sqlstate()};
  } catch (const pqxx::in_doubt_error& x) {
    // The connection broke during COMMIT: the outcome is unknown. Retrying is
    // safe only because every call we retry is idempotent (see client.cpp).
    m = {MappedError::Kind::connection, trimmed(x.what()), "", true, true};
  } catch (const pqxx::broken_connection& x) {
    m = {MappedError::Kind::connection, trimmed(x.what()), "", true, true};
  } catch (const pqxx::sql_error& x) {
    m = from_sqlstate(x.what(), x.sqlstate().empty() ? implied_sqlstate(x) : x.sqlstate());
  } catch (const pqxx::transaction_rollback& x) {
    // libpqxx 6 derives these from pqxx::failure (not sql_error) and keeps
    // no SQLSTATE: the class tells which one it was.
    m = from_sqlstate(x.what(), rollback_sqlstate(x));
  } catch (const nlohmann::json::exception& x) {
    // e.g. a key that is not valid UTF-8 cannot be put into the JSON request
    m = {MappedError::Kind::bad_request, std::string("cannot encode request as JSON: ") + x.what(),
         "22P02"};
  } catch (const std::exception& x) {
    m = {MappedError::Kind::other, trimmed(x.what()), ""};
  } catch (...) {
    m = {MappedError::Kind::other, "unknown exception", ""};
  }
  return m;
}

}  // namespace allot::detail
