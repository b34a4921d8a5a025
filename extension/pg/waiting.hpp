// Short, cancellable waits for another session to finish a state change in
// shared memory (a slot being loaded or moved, holders draining). These
// last milliseconds; the limits only turn "something is stuck" into an
// error instead of a hang.
#pragma once

#include <chrono>

#include "guard.hpp"
#include "postgres.hpp"

namespace allot::pg {

// Sleeps a little; a cancel or terminate request interrupts it (as an error).
inline void pause_briefly(long microseconds = 500) {
  pg_call([microseconds] {
    CHECK_FOR_INTERRUPTS();
    pg_usleep(microseconds);
  });
}

// Polls `done` until it holds (true) or `limit` has passed (false).
template <typename Done>
bool wait_until(Done done, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    pause_briefly();
  }
  return true;
}

}  // namespace allot::pg
