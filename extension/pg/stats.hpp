// Counters since server start, kept in shared memory when pg_allot is in
// shared_preload_libraries (allot.stats). Without it they are not kept and
// allot.stats shows NULLs.
#pragma once

#include <cstdint>

namespace allot::pg {

enum class Stat {
  kGrantsFast,
  kGrantsSlow,
  kDenials,
  kReplays,
  kReversals,
  kPromotions,
  kDemotions,
  kRollups,
  kCount  // number of counters
};

void request_stats_shmem();  // from _PG_init, only when preloading
void count(Stat stat, std::uint64_t n = 1);
bool stats_available();
std::uint64_t stat_value(Stat stat);
std::int64_t stats_since();  // TimestampTz of server start

}  // namespace allot::pg
