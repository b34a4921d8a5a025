#include "drop_hook.hpp"

#include "postgres.hpp"
#include "shared_state.hpp"

namespace allot::pg {
namespace {

object_access_hook_type g_prev_hook = nullptr;
bool g_forget_at_commit = false;

// Plain C-style code: a PostgreSQL hook, with no C++ object alive across
// the calls that may ereport.
void on_object_access(ObjectAccessType access, Oid class_id, Oid object_id, int sub_id,
                      void* arg) {
  if (g_prev_hook) g_prev_hook(access, class_id, object_id, sub_id, arg);
  if (access == OAT_DROP && class_id == ExtensionRelationId &&
      object_id == get_extension_oid("pg_allot", true))
    g_forget_at_commit = true;
}

void on_xact(XactEvent event, void*) {
  if (!g_forget_at_commit) return;
  if (event == XACT_EVENT_COMMIT) forget_database(MyDatabaseId);
  if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT) g_forget_at_commit = false;
}

}  // namespace

void install_drop_hook() {
  g_prev_hook = object_access_hook;
  object_access_hook = on_object_access;
  RegisterXactCallback(on_xact, nullptr);
}

}  // namespace allot::pg
