// Module entry: PG_MODULE_MAGIC and _PG_init.
#include "guard.hpp"
#include "settings.hpp"
#include "lifecycle_hooks.hpp"
#include "fast_path.hpp"
#include "limits_cache.hpp"
#include "shared_state.hpp"
#include "stats.hpp"
#include "worker.hpp"

extern "C" {

PG_MODULE_MAGIC;

void _PG_init(void);
void _PG_init(void) {
  allot::pg::define_settings();
  // Shared memory can only be had at server start; without preloading,
  // pg_allot works the same, minus allot.stats.
  if (process_shared_preload_libraries_in_progress) {
    allot::pg::request_stats_shmem();
    allot::pg::request_shared_state();
    allot::pg::register_launcher();
    allot::pg::install_lifecycle_hooks();
  }
  allot::pg::register_fast_path_callbacks();
  allot::pg::register_limits_cache_callbacks();
}

}  // extern "C"
