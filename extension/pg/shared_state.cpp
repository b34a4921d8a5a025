#include "shared_state.hpp"

#include <algorithm>
#include <new>

#include "lifecycle_hooks.hpp"
#include "postgres.hpp"
#include "settings.hpp"

namespace allot::pg {
namespace {

constexpr std::uint32_t kMaxDatabases = 64;
constexpr std::size_t kStripes = 16384;

struct FoldRegistration {
  std::atomic<std::uint32_t> db{0};
  // The lowest seq the writer may hold (all seqs handed out before it
  // registered are below it), so at least 1; 0: not writing.
  std::atomic<std::int64_t> low_seq{0};
};

struct SharedHeader {
  DatabaseState databases[kMaxDatabases];
  std::atomic<std::uint32_t> databases_lock{0};
  std::atomic<std::uint32_t> stripes[kStripes];
  std::atomic<std::uint64_t> limits_generation{0};
  std::atomic<std::int32_t> launcher_procno{-1};  // its PGPROC: whose latch to set
  std::size_t registrations = 0;
  std::size_t table_offset = 0;
};

SharedHeader* g_header = nullptr;
KeyTable* g_table = nullptr;
bool g_registered = false;
DatabaseState* g_my_database = nullptr;
shmem_request_hook_type g_prev_request_hook = nullptr;
shmem_startup_hook_type g_prev_startup_hook = nullptr;

std::size_t registration_count() { return static_cast<std::size_t>(MaxBackends); }

std::size_t layout_bytes(std::size_t* table_offset) {
  std::size_t bytes = MAXALIGN(sizeof(SharedHeader));
  bytes += MAXALIGN(registration_count() * sizeof(FoldRegistration));
  *table_offset = bytes;
  return bytes + KeyTable::bytes_for(static_cast<std::size_t>(max_shared_keys()));
}

FoldRegistration* registrations() {
  return reinterpret_cast<FoldRegistration*>(reinterpret_cast<char*>(g_header) +
                                             MAXALIGN(sizeof(SharedHeader)));
}

void on_shmem_request() {
  if (g_prev_request_hook) g_prev_request_hook();
  std::size_t offset;
  RequestAddinShmemSpace(layout_bytes(&offset));
}

void on_shmem_startup() {
  if (g_prev_startup_hook) g_prev_startup_hook();
  bool found = false;
  std::size_t offset;
  const std::size_t bytes = layout_bytes(&offset);
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  void* memory = ShmemInitStruct("pg_allot fast path", bytes, &found);
  g_header = static_cast<SharedHeader*>(memory);
  if (!found) {
    new (g_header) SharedHeader();
    g_header->registrations = registration_count();
    g_header->table_offset = offset;
    for (std::size_t i = 0; i < g_header->registrations; ++i)
      new (&registrations()[i]) FoldRegistration();
    KeyTable::create(static_cast<char*>(memory) + offset,
                     static_cast<std::size_t>(max_shared_keys()));
  }
  g_table = reinterpret_cast<KeyTable*>(static_cast<char*>(memory) + g_header->table_offset);
  LWLockRelease(AddinShmemInitLock);
}

// Held while an entry of the table of databases is taken or given back
// (finding one needs no lock: an entry's db changes only under it).
class DatabasesLock {
 public:
  DatabasesLock() {
    std::uint32_t unlocked = 0;
    while (!g_header->databases_lock.compare_exchange_weak(unlocked, 1)) unlocked = 0;
  }
  ~DatabasesLock() { g_header->databases_lock.store(0); }
  DatabasesLock(const DatabasesLock&) = delete;
  DatabasesLock& operator=(const DatabasesLock&) = delete;
};

FoldRegistration* my_registration() {
  if (!g_header || !MyProc) return nullptr;
  const auto n = static_cast<std::size_t>(MyProc->pgprocno);
  return n < g_header->registrations ? &registrations()[n] : nullptr;
}

}  // namespace

void request_shared_state() {
  g_prev_request_hook = shmem_request_hook;
  shmem_request_hook = on_shmem_request;
  g_prev_startup_hook = shmem_startup_hook;
  shmem_startup_hook = on_shmem_startup;
}

bool shared_state_available() { return g_header != nullptr; }

KeyTable& key_table() { return *g_table; }

std::uint32_t max_databases() { return kMaxDatabases; }

DatabaseState* database_state(std::uint32_t db) {
  if (!g_header) return nullptr;
  for (DatabaseState& d : g_header->databases)
    if (d.db.load() == db) return &d;
  return nullptr;
}

DatabaseState* my_database() {
  if (extension_created_in_this_transaction()) return nullptr;
  if (g_my_database) return g_my_database;
  if (!g_header) return nullptr;
  const std::uint32_t db = MyDatabaseId;
  if (DatabaseState* d = database_state(db)) return g_my_database = d;
  DatabasesLock lock;
  DatabaseState* found = database_state(db);
  if (!found)
    for (DatabaseState& d : g_header->databases)
      if (d.db.load() == 0) {
        d.db.store(db);
        found = &d;
        break;
      }
  return g_my_database = found;
}

void register_fold_writer() {
  if (g_registered) return;
  FoldRegistration* r = my_registration();
  DatabaseState* d = my_database();
  if (!r || !d) return;
  // Any seq this transaction gets from now on is above every seq already
  // recorded in max_seq_seen (sequences are monotonic, cache 1). (This was
  // once max(max_seq_seen, 1), to keep 0 for "not writing": then a writer
  // registered before any seq was seen could hold seq 1 while a fold
  // passed it, and the first grant of a new database was never folded.)
  r->db.store(MyDatabaseId);
  r->low_seq.store(d->max_seq_seen.load() + 1);
  g_registered = true;
  // The database's worker exited while idle: ask for it again (the worker
  // stored idle_until before it looked for registrations, so it either
  // sees ours and stays, or we see its idle_until here).
  want_worker(*d);
}

void clear_fold_writer() {
  if (!g_registered) return;
  if (FoldRegistration* r = my_registration()) r->low_seq.store(0);
  g_registered = false;
}

void note_launcher() {
  if (g_header) g_header->launcher_procno.store(MyProc->pgprocno);
}

void want_worker(DatabaseState& d) {
  if (d.idle_until.load() == 0) return;
  d.idle_until.store(0);
  wake_launcher();
}

void wake_launcher() {
  // Now rather than at its next look (up to a second later): a new
  // database's first redemptions wait for its first fold. A stale procno
  // (launcher restarting) sets some process's latch once, which latches
  // allow.
  const std::int32_t procno = g_header ? g_header->launcher_procno.load() : -1;
  if (procno >= 0 && static_cast<std::uint32_t>(procno) < ProcGlobal->allProcCount)
    SetLatch(&ProcGlobal->allProcs[procno].procLatch);
}

void note_seq(std::int64_t seq) {
  DatabaseState* d = my_database();
  if (!d) return;
  want_worker(*d);
  std::int64_t seen = d->max_seq_seen.load();
  while (seen < seq && !d->max_seq_seen.compare_exchange_weak(seen, seq)) {
  }
}

std::int64_t fold_horizon(DatabaseState& state) {
  // Read max_seq_seen first, registrations second, and take the snapshot
  // (the caller's next statement) last; rollup.cpp explains why.
  std::int64_t horizon = state.max_seq_seen.load();
  const std::uint32_t db = state.db.load();
  for (std::size_t i = 0; i < g_header->registrations; ++i) {
    FoldRegistration& r = registrations()[i];
    const std::int64_t low = r.low_seq.load();
    if (low != 0 && r.db.load() == db) horizon = std::min(horizon, low - 1);
  }
  return horizon;
}

bool fold_writers_in_flight(DatabaseState& state) {
  const std::uint32_t db = state.db.load();
  for (std::size_t i = 0; i < g_header->registrations; ++i) {
    FoldRegistration& r = registrations()[i];
    if (r.low_seq.load() != 0 && r.db.load() == db) return true;
  }
  return false;
}

std::atomic<std::uint32_t>& stripe_of(std::string_view key) {
  return g_header->stripes[hash_key(MyDatabaseId, key) % kStripes];
}

std::atomic<std::uint64_t>* limits_generation() {
  return g_header ? &g_header->limits_generation : nullptr;
}

void forget_database(std::uint32_t db) {
  if (!g_header) return;
  if (DatabaseState* d = database_state(db)) {
    d->folded.store(0);
    d->max_seq_seen.store(0);
  }
  // Nobody redeems in this database any more (the tables are gone), so
  // nobody holds these slots; a reader passing by loses nothing.
  g_table->for_each([db](KeySlot& s) {
    if (s.db == db) KeyTable::abandon(&s);
  });
}

void release_database(std::uint32_t db) {
  if (!g_header) return;
  forget_database(db);
  DatabasesLock lock;
  if (DatabaseState* d = database_state(db)) {
    d->worker_pid.store(0);
    d->idle_until.store(0);
    d->db.store(0);
  }
}

}  // namespace allot::pg
