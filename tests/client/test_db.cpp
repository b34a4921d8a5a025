#include "test_db.hpp"

#include <unistd.h>

#include <chrono>
#include <thread>

namespace allot_test {

const std::string& db_name() {
  static const std::string name = "allot_client_test_" + std::to_string(getpid());
  return name;
}

const std::string& conninfo() {
  static const std::string s = "dbname=" + db_name();
  return s;
}

namespace {

// Test-only sabotage: a trigger on allot.txns (written by every grant, on
// either path) that fails or sleeps for keys listed in inject_rules. The
// count lives in a sequence because nextval survives the rollback.
const char* kInjectSetup = R"sql(
CREATE TABLE public.inject_rules (key text PRIMARY KEY, seq regclass NOT NULL,
                                  times bigint NOT NULL, state text NOT NULL);
CREATE FUNCTION public.inject_fire() RETURNS trigger
  LANGUAGE plpgsql SET search_path = public, pg_catalog AS $f$
DECLARE r record;
BEGIN
  FOR r IN SELECT * FROM public.inject_rules i WHERE i.key = ANY (NEW.keys) LOOP
    IF nextval(r.seq) <= r.times THEN
      IF r.state = 'sleep' THEN
        PERFORM pg_sleep(2);
      ELSE
        RAISE EXCEPTION 'injected failure % for %', r.state, r.key USING ERRCODE = r.state;
      END IF;
    END IF;
  END LOOP;
  RETURN NULL;
END $f$;
CREATE TRIGGER inject AFTER INSERT ON allot.txns FOR EACH ROW EXECUTE FUNCTION public.inject_fire();
)sql";

class Database : public ::testing::Environment {
 public:
  void SetUp() override {
    try {
      pqxx::connection admin{"dbname=postgres"};
      pqxx::nontransaction n{admin};
      n.exec("DROP DATABASE IF EXISTS " + n.quote_name(db_name()) + " WITH (FORCE)");
      n.exec("CREATE DATABASE " + n.quote_name(db_name()) + " TEMPLATE template0");
      created_ = true;
      pqxx::connection db{conninfo()};
      pqxx::nontransaction t{db};
      t.exec("CREATE EXTENSION pg_allot");
      t.exec(kInjectSetup);
    } catch (const std::exception& e) {
      FAIL() << "cannot set up the test database " << db_name()
             << " (PGHOST/PGPORT/PGUSER of a server with pg_allot installed?): " << e.what();
    }
  }
  void TearDown() override {
    if (!created_ || getenv("ALLOT_KEEP_TEST_DB")) return;
    try {
      pqxx::connection admin{"dbname=postgres"};
      pqxx::nontransaction n{admin};
      n.exec("DROP DATABASE IF EXISTS " + n.quote_name(db_name()) + " WITH (FORCE)");
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cannot drop " << db_name() << ": " << e.what();
    }
  }

 private:
  bool created_ = false;
};

}  // namespace

Admin::Admin() : conn_(conninfo()) {}

long long Admin::used(const std::string& key) {
  return value<long long>("SELECT coalesce(sum(used), 0) FROM allot.usage WHERE key = $1", key);
}

long long Admin::verify_problems() {
  return value<long long>("SELECT count(*) FROM allot.verify()");
}

long long Admin::txn_rows(const allot::Uuid& txn) {
  return value<long long>("SELECT count(*) FROM allot.txns WHERE txn = $1::uuid", txn.str());
}

void Admin::kill_backend(int pid) {
  value<bool>("SELECT pg_terminate_backend($1)", pid);
  for (int i = 0; i < 500; ++i) {
    if (value<long long>("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid) == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("backend " + std::to_string(pid) + " did not go away");
}

std::string Admin::inject(const std::string& key, const std::string& sqlstate, long long times) {
  static int n = 0;
  const std::string seq = "inject_seq_" + std::to_string(++n);
  exec("CREATE SEQUENCE public." + seq);
  value<long long>(
      "WITH i AS (INSERT INTO public.inject_rules VALUES ($1, $2::regclass, $3, $4) "
      "ON CONFLICT (key) DO UPDATE SET seq = excluded.seq, times = excluded.times, "
      "state = excluded.state RETURNING 1) SELECT count(*) FROM i",
      key, "public." + seq, times, sqlstate);
  return "public." + seq;
}

std::string key(const std::string& suffix, const std::string& kind) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "none";
  return kind + ":" + name + suffix;
}

int backend_pid(pqxx::connection& c) {
  pqxx::nontransaction n{c};
  return n.exec("SELECT pg_backend_pid()")[0][0].as<int>();
}

}  // namespace allot_test

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new allot_test::Database);
  return RUN_ALL_TESTS();
}

// libpq/libpqxx 6.4 leak a PGresult when a connection breaks mid-query
// (seen in the connection-loss tests); not ours to fix.
extern "C" const char* __lsan_default_suppressions() { return "leak:libpq.so\nleak:libpqxx\n"; }
