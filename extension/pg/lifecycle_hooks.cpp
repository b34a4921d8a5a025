#include "lifecycle_hooks.hpp"

#include "postgres.hpp"
#include "shared_state.hpp"

namespace allot::pg {
namespace {

object_access_hook_type g_prev_hook = nullptr;
bool g_forget_at_commit = false;    // DROP EXTENSION pg_allot in this transaction
bool g_created_here = false;        // CREATE EXTENSION pg_allot in this transaction
Oid g_dropped_database = InvalidOid;  // DROP DATABASE (one per transaction)

bool is_pg_allot(Oid extension) {
  return OidIsValid(extension) && extension == get_extension_oid("pg_allot", true);
}

// Plain C-style code: a PostgreSQL hook, with no C++ object alive across
// the calls that may ereport.
void on_object_access(ObjectAccessType access, Oid class_id, Oid object_id, int sub_id,
                      void* arg) {
  if (g_prev_hook) g_prev_hook(access, class_id, object_id, sub_id, arg);
  if (access == OAT_DROP && class_id == ExtensionRelationId && is_pg_allot(object_id))
    g_forget_at_commit = true;
  // While the install script runs, every object it creates belongs to the
  // extension being created (the extension row is visible to it by then).
  if (access == OAT_POST_CREATE && creating_extension && !g_created_here &&
      is_pg_allot(CurrentExtensionObject))
    g_created_here = true;
  if (access == OAT_DROP && class_id == DatabaseRelationId)
    g_dropped_database = object_id;
}

void on_xact(XactEvent event, void*) {
  if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT) return;
  if (event == XACT_EVENT_COMMIT) {
    if (g_forget_at_commit) forget_database(MyDatabaseId);
    if (OidIsValid(g_dropped_database)) release_database(g_dropped_database);
  }
  g_forget_at_commit = false;
  g_created_here = false;
  g_dropped_database = InvalidOid;
}

}  // namespace

void install_lifecycle_hooks() {
  g_prev_hook = object_access_hook;
  object_access_hook = on_object_access;
  RegisterXactCallback(on_xact, nullptr);
}

bool extension_created_in_this_transaction() { return g_created_here; }

}  // namespace allot::pg
