// The fold: reads a range of the event log and adds what fast-path grants
// and reversals counted to allot.counters. The rollup (rollup.cpp) decides
// which range is safe to fold; this file only folds it.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "../core/time.hpp"

namespace allot::pg {

struct KeyUnits {
  double units;
  Timestamp last_at;
};

struct Folded {
  std::int64_t events = 0;  // events read, of every kind
  // Units granted per key by slow-path grants (fast keys count theirs in
  // their slots: reading every fast grant's keys here would double the
  // fold's cost).
  std::map<std::string, KeyUnits> by_key;
};

// Folds the events with after < seq <= upto into allot.counters. Every
// event at or below upto must be committed or rolled back for good (the
// caller's horizon guarantees it), so each chunk may read with a snapshot
// of its own.
Folded fold_range(std::int64_t after, std::int64_t upto);

}  // namespace allot::pg
