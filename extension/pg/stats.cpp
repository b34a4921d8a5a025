#include "stats.hpp"

#include "postgres.hpp"

namespace allot::pg {
namespace {

struct SharedStats {
  pg_atomic_uint64 counters[static_cast<int>(Stat::kCount)];
  TimestampTz since;
};

SharedStats* g_stats = nullptr;
shmem_request_hook_type g_prev_request_hook = nullptr;
shmem_startup_hook_type g_prev_startup_hook = nullptr;

void on_shmem_request() {
  if (g_prev_request_hook) g_prev_request_hook();
  RequestAddinShmemSpace(MAXALIGN(sizeof(SharedStats)));
}

void on_shmem_startup() {
  if (g_prev_startup_hook) g_prev_startup_hook();
  bool found = false;
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  g_stats =
      static_cast<SharedStats*>(ShmemInitStruct("pg_allot stats", sizeof(SharedStats), &found));
  if (!found) {
    for (auto& c : g_stats->counters) pg_atomic_init_u64(&c, 0);
    g_stats->since = GetCurrentTimestamp();
  }
  LWLockRelease(AddinShmemInitLock);
}

}  // namespace

void request_stats_shmem() {
  g_prev_request_hook = shmem_request_hook;
  shmem_request_hook = on_shmem_request;
  g_prev_startup_hook = shmem_startup_hook;
  shmem_startup_hook = on_shmem_startup;
}

// Atomic adds cannot fail: safe to call from anywhere.
void count(Stat stat, std::uint64_t n) {
  if (g_stats && n) pg_atomic_fetch_add_u64(&g_stats->counters[static_cast<int>(stat)], n);
}

bool stats_available() { return g_stats != nullptr; }

std::uint64_t stat_value(Stat stat) {
  return g_stats ? pg_atomic_read_u64(&g_stats->counters[static_cast<int>(stat)]) : 0;
}

std::int64_t stats_since() { return g_stats ? g_stats->since : 0; }

}  // namespace allot::pg
