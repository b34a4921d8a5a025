#include "guard.hpp"

namespace allot::pg::detail {

void remember(CaughtError* out, int sqlstate, const char* message, const char* detail) {
  out->sqlstate = sqlstate;
  std::strncpy(out->message, message, sizeof(out->message) - 1);
  std::strncpy(out->detail, detail, sizeof(out->detail) - 1);
}

int sqlstate_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidParameter:
      return ERRCODE_INVALID_PARAMETER_VALUE;
    case ErrorCode::kInvalidText:
      return ERRCODE_INVALID_TEXT_REPRESENTATION;
    case ErrorCode::kOutOfRange:
      return ERRCODE_DATETIME_VALUE_OUT_OF_RANGE;
  }
  return ERRCODE_INTERNAL_ERROR;
}

void raise(const CaughtError& error) {
  if (error.pg_error) ReThrowError(error.pg_error);
  ereport(ERROR, (errcode(error.sqlstate), errmsg("%s", error.message),
                  error.detail[0] ? errdetail("%s", error.detail) : 0));
  pg_unreachable();
}

}  // namespace allot::pg::detail
