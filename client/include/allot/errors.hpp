// Typed errors of the pg_allot client. Catch allot::Error for all of them.
#pragma once

#include <stdexcept>
#include <string>

namespace allot {

class Error : public std::runtime_error {
 public:
  Error(const std::string& message, std::string sqlstate = "")
      : std::runtime_error(message), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }  // empty when not from the server

 private:
  std::string sqlstate_;
};

// The server rejected the input (SQLSTATE class 22): bad key, amount, JSON...
class BadRequest : public Error {
  using Error::Error;
};

// The txn was already granted with other keys or amount (SQLSTATE 23505).
class Conflict : public Error {
  using Error::Error;
};

// The connection broke and the retries allowed by RetryPolicy ran out.
class ConnectionError : public Error {
  using Error::Error;
};

}  // namespace allot
