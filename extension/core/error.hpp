// Errors raised by the pure core. The PostgreSQL glue maps each code to a
// SQLSTATE; the core itself knows nothing about PostgreSQL.
#pragma once

#include <stdexcept>
#include <string>

namespace allot {

enum class ErrorCode {
  kInvalidParameter,   // SQLSTATE 22023 invalid_parameter_value
  kInvalidText,        // SQLSTATE 22P02 invalid_text_representation
  kOutOfRange,         // SQLSTATE 22008 datetime_value_out_of_range
  kNumericOutOfRange,  // SQLSTATE 22003 numeric_value_out_of_range
  kInvalidEncoding,    // SQLSTATE 22021 character_not_in_repertoire (text that is not UTF-8)
};

// Bad input from a caller. The message names the problem in words a user of
// the SQL API understands ("key 2 \"voucher:\": empty id in segment 1").
class BadInput : public std::runtime_error {
 public:
  BadInput(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  explicit BadInput(const std::string& message) : BadInput(ErrorCode::kInvalidParameter, message) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace allot
