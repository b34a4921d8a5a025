// Turns whatever a call threw (libpqxx, nlohmann::json, our own checks) into
// one of the allot:: exceptions, and says whether the call may be retried.
#pragma once

#include <exception>
#include <string>

namespace allot::detail {

struct MappedError {
  enum class Kind { bad_request, conflict, connection, other };
  Kind kind = Kind::other;
  std::string message;           // the server's (or library's) message
  std::string sqlstate;          // empty when not from the server
  bool retryable = false;        // transient: the same call may succeed again
  bool connection_lost = false;  // the connection must be replaced before reuse

  std::exception_ptr make() const;  // an allot::BadRequest / Conflict / ConnectionError / Error
  [[noreturn]] void raise() const;
};

// Classifies `e` (usually std::current_exception()).
MappedError map_exception(std::exception_ptr e);

}  // namespace allot::detail
