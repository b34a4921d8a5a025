#include "worker.hpp"

#include <limits>
#include <map>
#include <vector>

#include "guard.hpp"
#include "postgres.hpp"
#include "rollup.hpp"
#include "settings.hpp"
#include "shared_state.hpp"
#include "spi.hpp"

extern "C" {
PGDLLEXPORT void allot_launcher_main(Datum arg);
PGDLLEXPORT void allot_rollup_worker_main(Datum arg);
}

namespace allot::pg {
namespace {

constexpr const char* kLauncherType = "pg_allot launcher";
constexpr const char* kWorkerType = "pg_allot rollup";
// The schema versions this library rolls up: default_version in
// pg_allot.control, and 0.4, whose tables and columns are the same (0.5
// only registers them for pg_dump). A database at another version is left
// alone until it is updated.
constexpr const char* kSchemaVersion = "0.5";
constexpr const char* kSameTablesVersion = "0.4";

void fill_worker(BackgroundWorker* w, const char* type, const char* function) {
  memset(w, 0, sizeof(*w));
  snprintf(w->bgw_name, BGW_MAXLEN, "%s", type);
  snprintf(w->bgw_type, BGW_MAXLEN, "%s", type);
  w->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  w->bgw_start_time = BgWorkerStart_RecoveryFinished;
  snprintf(w->bgw_library_name, BGW_MAXLEN, "pg_allot");
  snprintf(w->bgw_function_name, BGW_MAXLEN, "%s", function);
}

// Whether someone holds a lock on `db` that a connection's RowExclusiveLock
// conflicts with (DROP DATABASE, ALTER DATABASE ... RENAME / SET TABLESPACE).
bool database_locked_exclusively(Oid db) {
  LOCKTAG tag;
  SET_LOCKTAG_OBJECT(tag, InvalidOid, DatabaseRelationId, db, 0);
  if (LockAcquire(&tag, RowExclusiveLock, false, true) == LOCKACQUIRE_NOT_AVAIL) return true;
  LockRelease(&tag, RowExclusiveLock, false);
  return false;
}

bool database_being_dropped() { return database_locked_exclusively(MyDatabaseId); }

// allot.worker_idle_exit has passed since the worker last found work.
bool idle_long_enough(TimestampTz last_busy, TimestampTz now) {
  const int seconds = worker_idle_exit_seconds();
  return seconds > 0 && now - last_busy >= seconds * USECS_PER_SEC;
}

// Whether an idle worker may exit now: the log is folded as far as any
// insert went, and no transaction is about to write events. Otherwise it
// stays. We store idle_until first and read the registrations second; a
// writer registers first and reads idle_until second
// (register_fold_writer), so one of us sees the other: either we stay, or
// the writer has the launcher start a new worker.
bool may_leave(DatabaseState& state, std::int64_t folded_upto) {
  state.idle_until.store(std::numeric_limits<std::int64_t>::max());
  if (state.max_seq_seen.load() <= folded_upto && !fold_writers_in_flight(state)) return true;
  state.idle_until.store(0);
  return false;
}

// Databases that accept connections (read from the shared catalog).
std::vector<Oid> connectable_databases() {
  std::vector<Oid> out;
  StartTransactionCommand();
  Relation rel = table_open(DatabaseRelationId, AccessShareLock);
  TableScanDesc scan = table_beginscan_catalog(rel, 0, nullptr);
  HeapTuple tuple;
  while ((tuple = heap_getnext(scan, ForwardScanDirection)) != nullptr) {
    auto* db = reinterpret_cast<Form_pg_database>(GETSTRUCT(tuple));
    if (!db->datallowconn || db->datistemplate) continue;
#ifdef DATCONNLIMIT_INVALID_DB
    // Left invalid by an interrupted DROP DATABASE: nobody can connect.
    if (db->datconnlimit == DATCONNLIMIT_INVALID_DB) continue;
#endif
    // DROP DATABASE holds this lock from its start to its commit; a worker
    // started now would fail to connect ("database ... does not exist").
    if (database_locked_exclusively(db->oid)) continue;
    out.push_back(db->oid);
  }
  table_endscan(scan);
  table_close(rel, AccessShareLock);
  CommitTransactionCommand();
  return out;
}

bool extension_installed() {
  return OidIsValid(get_extension_oid("pg_allot", true));
}

// Whether the extension is installed, and if so holds it for the rest of
// the transaction: DROP EXTENSION takes an exclusive lock on the extension
// object, so it waits for our rollup instead of pulling the tables from
// under it ("relation allot.limits does not exist").
bool hold_extension() {
  const Oid ext = get_extension_oid("pg_allot", true);
  if (!OidIsValid(ext)) return false;
  LockDatabaseObject(ExtensionRelationId, ext, 0, AccessShareLock);
  // A DROP that held the lock before us has committed by now.
  return get_extension_oid("pg_allot", true) == ext;
}

// A DROP DATABASE of our database holds this lock while it waits for the
// other sessions to leave: give way at once.
// The worker runs as the bootstrap superuser, with the database's settings
// (ALTER DATABASE ... SET search_path) applied at connection. Whatever a
// schema on that path holds must never resolve a name in our SQL: someone
// who may create objects in, say, public could put a clock_timestamp() or
// an = operator there and have it run as superuser. So the path is pinned,
// before any SQL runs, at a priority neither the database's nor the
// configuration file's setting (re-read on SIGHUP) can override; the SQL
// itself names its schemas too. No C++ object is alive here: an error ends
// the process.
void pin_search_path() {
  SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
}

}  // namespace

void register_launcher() {
  BackgroundWorker w;
  fill_worker(&w, kLauncherType, "allot_launcher_main");
  w.bgw_restart_time = 1;  // seconds: it comes back after a crash
  RegisterBackgroundWorker(&w);
}

}  // namespace allot::pg

using namespace allot::pg;

void allot_launcher_main(Datum) {
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
  BackgroundWorkerUnblockSignals();
  BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
  note_launcher();

  // Plain C structures only: errors here end the process (and the
  // postmaster restarts it), never unwinding C++ frames.
  struct Running {
    Oid db;
    BackgroundWorkerHandle* handle;
  };
  static Running running[64];
  static int n_running = 0;
  TimestampTz last_slot_warning = 0;
  while (!ShutdownRequestPending) {
    if (ConfigReloadPending) {
      ConfigReloadPending = false;
      ProcessConfigFile(PGC_SIGHUP);
    }
    // Forget workers that stopped; start one for every database without.
    for (int i = 0; i < n_running;) {
      pid_t pid;
      if (GetBackgroundWorkerPid(running[i].handle, &pid) == BGWH_STOPPED) {
        running[i] = running[--n_running];
      } else {
        ++i;
      }
    }
    std::vector<Oid> dbs = connectable_databases();
    const TimestampTz now = GetCurrentTimestamp();
    for (Oid db : dbs) {
      bool have = false;
      for (int i = 0; i < n_running; ++i) have = have || running[i].db == db;
      DatabaseState* state = database_state(db);
      if (have || n_running >= 64) continue;
      if (state && state->idle_until.load() > now) continue;
      BackgroundWorker w;
      fill_worker(&w, kWorkerType, "allot_rollup_worker_main");
      w.bgw_restart_time = BGW_NEVER_RESTART;
      w.bgw_main_arg = ObjectIdGetDatum(db);
      w.bgw_notify_pid = MyProcPid;
      BackgroundWorkerHandle* handle;
      if (RegisterDynamicBackgroundWorker(&w, &handle)) {
        running[n_running++] = {db, handle};
        if (state) state->no_worker_slot.store(0);
        continue;
      }
      // Every slot of max_worker_processes is taken. Redemptions here fold
      // the log themselves when they need it folded. Say so once each time
      // a database is left without a worker (once a minute for databases
      // that have no shared entry yet).
      const bool newly = state ? state->no_worker_slot.exchange(1) == 0
                               : now - last_slot_warning >= 60 * USECS_PER_SEC;
      if (newly) {
        if (!state) last_slot_warning = now;
        ereport(WARNING,
                (errmsg("pg_allot: no free background worker slot for the rollup worker of "
                        "database %u",
                        db),
                 errhint("Raise max_worker_processes (now %d), or lower allot.worker_idle_exit "
                         "so that idle databases give their worker's slot back.",
                         max_worker_processes)));
      }
    }
    (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000L,
                    PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
  }
  proc_exit(0);
}

void allot_rollup_worker_main(Datum arg) {
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
  BackgroundWorkerUnblockSignals();
  const Oid db = DatumGetObjectId(arg);
  BackgroundWorkerInitializeConnectionByOid(db, InvalidOid, 0);
  pin_search_path();

  StartTransactionCommand();
  const bool installed = extension_installed();
  CommitTransactionCommand();
  DatabaseState* state = my_database();
  if (!installed) {
    // Look again in a while (CREATE EXTENSION, or the first redemption,
    // which clears idle_until, brings us back sooner).
    if (state) state->idle_until.store(GetCurrentTimestamp() + 10 * USECS_PER_SEC);
    proc_exit(0);
  }
  if (state) {
    state->worker_pid.store(MyProcPid);
    state->idle_until.store(0);
    state->no_worker_slot.store(0);
  }
  TimestampTz last_busy = GetCurrentTimestamp();
  while (!ShutdownRequestPending) {
    if (ConfigReloadPending) {
      ConfigReloadPending = false;
      ProcessConfigFile(PGC_SIGHUP);
    }
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    if (database_being_dropped() || !hold_extension()) {
      CommitTransactionCommand();
      break;
    }
    PushActiveSnapshot(GetTransactionSnapshot());
    pgstat_report_activity(STATE_RUNNING, "SELECT * FROM allot.rollup()");
    bool failed = false;
    bool outdated = false;
    RollupResult result;
    try {
      SpiSession spi;
      static Statement version("SELECT extversion FROM pg_catalog.pg_extension "
                               "WHERE extname = 'pg_allot'", {});
      Rows rows = execute(version, {});
      const std::string installed = rows.size() == 1 ? rows.get_text(0, 1) : "";
      if (installed != kSchemaVersion && installed != kSameTablesVersion) {
        outdated = true;
        ereport(LOG, (errmsg("pg_allot: database %u has pg_allot %s; this library rolls up "
                             "versions %s and %s only",
                             db, installed.c_str(), kSameTablesVersion, kSchemaVersion),
                      errhint("Run ALTER EXTENSION pg_allot UPDATE in that database.")));
      } else {
        result = run_rollup(LockWaits::kSkipIfBusy);
      }
      spi.finish();
    } catch (const std::exception& e) {
      elog(LOG, "pg_allot rollup in database %u failed: %s", db, e.what());
      failed = true;
    } catch (...) {
      failed = true;
    }
    PopActiveSnapshot();
    if (failed) {
      AbortCurrentTransaction();
    } else {
      CommitTransactionCommand();
    }
    pgstat_report_activity(STATE_IDLE, nullptr);
    if (outdated) {
      if (state) state->idle_until.store(GetCurrentTimestamp() + 60 * USECS_PER_SEC);
      break;
    }
    const TimestampTz now = GetCurrentTimestamp();
    if (failed || result.events > 0 || result.promoted > 0 || result.demoted > 0) last_busy = now;
    if (state && idle_long_enough(last_busy, now) && may_leave(*state, result.folded_upto)) break;
    (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
                    rollup_interval_ms(), PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
  }
  if (state && state->db.load() == db) state->worker_pid.store(0);  // not if released (DROP DATABASE)
  proc_exit(0);
}
