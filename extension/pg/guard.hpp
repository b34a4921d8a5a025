// The boundary between C++ and PostgreSQL (the pattern pg_duckdb uses).
//
//  * PostgreSQL reports errors with ereport(), which longjmps. A longjmp
//    across C++ frames skips their destructors (leaks, broken invariants).
//    So every call from C++ into PostgreSQL code that can ereport goes
//    through pg_call(), which catches the longjmp with PG_TRY right where it
//    happens and rethrows it as a C++ PgError. C++ unwinding then runs the
//    destructors normally.
//  * C++ exceptions must never propagate into PostgreSQL's C frames. So
//    every SQL-callable entry point runs its body through run_guarded(),
//    which catches everything, lets all C++ frames unwind, and only then
//    raises the PostgreSQL error (re-throwing the original ErrorData for a
//    PgError, so SQLSTATE, detail and context survive).
//
// Rule for code in this folder: C++ objects with destructors may live only
// in frames that are strictly inside run_guarded() and never between a
// PG_TRY and the PostgreSQL call it guards.
#pragma once

#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

#include "../core/error.hpp"
#include "postgres.hpp"

namespace allot::pg {

// A PostgreSQL error caught by pg_call. Owns a copy of the ErrorData made in
// the caller's memory context (freed with it).
class PgError : public std::exception {
 public:
  explicit PgError(ErrorData* data) : data_(data) {}
  const char* what() const noexcept override { return data_->message ? data_->message : "error"; }
  ErrorData* data() const { return data_; }

 private:
  ErrorData* data_;
};

// An error of ours that carries its own SQLSTATE (for example 23505).
class SqlError : public std::runtime_error {
 public:
  SqlError(int sqlstate, const std::string& message, const std::string& detail = "")
      : std::runtime_error(message), sqlstate_(sqlstate), detail_(detail) {}
  int sqlstate() const { return sqlstate_; }
  const std::string& detail() const { return detail_; }

 private:
  int sqlstate_;
  std::string detail_;
};

template <typename F>
auto pg_call(F&& fn) -> decltype(fn()) {
  using Result = decltype(fn());
  MemoryContext caller_context = CurrentMemoryContext;
  ErrorData* volatile caught = nullptr;
  if constexpr (std::is_void_v<Result>) {
    PG_TRY();
    { fn(); }
    PG_CATCH();
    {
      MemoryContextSwitchTo(caller_context);
      caught = CopyErrorData();
      FlushErrorState();
    }
    PG_END_TRY();
    if (caught) throw PgError(caught);
  } else {
    static_assert(std::is_trivially_destructible_v<Result>,
                  "pg_call may only return plain values (no destructor to skip)");
    volatile Result result{};  // volatile: assigned between setjmp and a possible longjmp
    PG_TRY();
    { result = fn(); }
    PG_CATCH();
    {
      MemoryContextSwitchTo(caller_context);
      caught = CopyErrorData();
      FlushErrorState();
    }
    PG_END_TRY();
    if (caught) throw PgError(caught);
    return result;
  }
}

namespace detail {

// What run_guarded learned from a failed body, kept in plain storage (no
// destructors) so that raising the error afterwards skips nothing.
struct CaughtError {
  ErrorData* pg_error = nullptr;
  int sqlstate = 0;
  char message[1024] = {0};
  char detail[1024] = {0};
};

void remember(CaughtError* out, int sqlstate, const char* message, const char* detail = "");
int sqlstate_of(ErrorCode code);
[[noreturn]] void raise(const CaughtError& error);

}  // namespace detail

// Runs a C++ body for a PostgreSQL entry point; see the comment at the top.
template <typename F>
Datum run_guarded(F&& body) {
  detail::CaughtError error;
  bool failed = true;
  Datum result = 0;
  try {
    result = body();
    failed = false;
  } catch (const PgError& e) {
    error.pg_error = e.data();
  } catch (const SqlError& e) {
    detail::remember(&error, e.sqlstate(), e.what(), e.detail().c_str());
  } catch (const BadInput& e) {
    detail::remember(&error, detail::sqlstate_of(e.code()), e.what());
  } catch (const std::bad_alloc&) {
    detail::remember(&error, ERRCODE_OUT_OF_MEMORY, "out of memory in pg_allot");
  } catch (const std::exception& e) {
    detail::remember(&error, ERRCODE_INTERNAL_ERROR, e.what());
  } catch (...) {
    detail::remember(&error, ERRCODE_INTERNAL_ERROR, "unknown C++ exception in pg_allot");
  }
  if (failed) detail::raise(error);
  return result;
}

}  // namespace allot::pg
