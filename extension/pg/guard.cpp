#include "guard.hpp"

namespace allot::pg::detail {

namespace {

// Copies at most size-1 bytes and never ends inside a UTF-8 character, so
// a cut message is still valid text for the client.
void copy_clipped(char* out, std::size_t size, const char* in) {
  std::size_t n = std::strlen(in);
  if (n >= size) {
    n = size - 1;
    while (n > 0 && (static_cast<unsigned char>(in[n]) & 0xC0) == 0x80) --n;
  }
  std::memcpy(out, in, n);
  out[n] = '\0';
}

}  // namespace

void remember(CaughtError* out, int sqlstate, const char* message, const char* detail) {
  out->sqlstate = sqlstate;
  copy_clipped(out->message, sizeof(out->message), message);
  copy_clipped(out->detail, sizeof(out->detail), detail);
}

int sqlstate_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidParameter:
      return ERRCODE_INVALID_PARAMETER_VALUE;
    case ErrorCode::kInvalidText:
      return ERRCODE_INVALID_TEXT_REPRESENTATION;
    case ErrorCode::kOutOfRange:
      return ERRCODE_DATETIME_VALUE_OUT_OF_RANGE;
    case ErrorCode::kNumericOutOfRange:
      return ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
    case ErrorCode::kInvalidEncoding:
      return ERRCODE_CHARACTER_NOT_IN_REPERTOIRE;
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
