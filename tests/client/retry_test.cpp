// Retries with the same txn: connection loss (between calls, during a call,
// around COMMIT), serialization failure, deadlock; and their limits.
#include <atomic>
#include <future>
#include <thread>

#include "pg_proxy.hpp"
#include "test_db.hpp"

using allot::Client;
using allot::RetryPolicy;
using allot::Uuid;
using allot_test::Admin;
using allot_test::key;
using namespace std::chrono_literals;

namespace {

RetryPolicy quick(int attempts = 5) { return RetryPolicy{attempts, 1ms, 20ms}; }

struct ErrorLog {
  std::vector<std::string> kinds;  // "connection", "bad_request", ... per on_error call
  std::vector<std::string> states;
  allot::Listeners listeners() {
    allot::Listeners l;
    l.on_error = [this](const std::exception& e) {
      if (dynamic_cast<const allot::ConnectionError*>(&e))
        kinds.push_back("connection");
      else if (dynamic_cast<const allot::BadRequest*>(&e))
        kinds.push_back("bad_request");
      else if (dynamic_cast<const allot::Conflict*>(&e))
        kinds.push_back("conflict");
      else if (dynamic_cast<const allot::Error*>(&e))
        kinds.push_back("error");
      else
        kinds.push_back("other");
      auto* ae = dynamic_cast<const allot::Error*>(&e);
      states.push_back(ae ? ae->sqlstate() : "?");
    };
    return l;
  }
};

}  // namespace

TEST(Retry, BackendKilledBetweenCallsReconnectsAndTheNextRedeemSucceeds) {
  Client q{allot_test::conninfo(), quick()};
  Admin admin;
  ErrorLog log;
  q.set_listeners(log.listeners());
  const std::string k = key();
  q.set_limit(k, 10);
  ASSERT_TRUE(q.redeem(Uuid::random(), {k}).granted);
  const int pid = allot_test::backend_pid(q.connection());
  admin.kill_backend(pid);
  auto d = q.redeem(Uuid::random(), {k});
  EXPECT_TRUE(d.granted);
  EXPECT_FALSE(d.replayed);
  EXPECT_NE(allot_test::backend_pid(q.connection()), pid);
  EXPECT_EQ(log.kinds, std::vector<std::string>{"connection"})
      << "the lost connection was reported";
  EXPECT_EQ(admin.used(k), 2);
  EXPECT_EQ(admin.verify_problems(), 0);
}

TEST(Retry, BackendKilledDuringRedeemIsRetriedAndCountedOnce) {
  Client q{allot_test::conninfo(), quick()};
  Admin admin;
  ErrorLog log;
  q.set_listeners(log.listeners());
  const std::string k = key();
  q.set_limit(k, 10);
  const int pid = allot_test::backend_pid(q.connection());
  admin.inject(k, "sleep", 1);  // the first grant sleeps 2 s inside redeem
  auto killer = std::async(std::launch::async, [pid] {
    Admin a;
    for (int i = 0; i < 500; ++i) {
      if (a.value<long long>("SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND "
                             "wait_event = 'PgSleep'",
                             pid) == 1) {
        a.kill_backend(pid);
        return true;
      }
      std::this_thread::sleep_for(5ms);
    }
    return false;
  });
  const Uuid txn = Uuid::random();
  auto d = q.redeem(txn, {k}, 3);
  ASSERT_TRUE(killer.get()) << "never saw the redeem sleeping";
  EXPECT_TRUE(d.granted);
  EXPECT_FALSE(d.replayed) << "the killed attempt rolled back; the retry decided afresh";
  EXPECT_EQ(log.kinds, std::vector<std::string>{"connection"});
  EXPECT_EQ(admin.used(k), 3);
  EXPECT_EQ(admin.txn_rows(txn), 1);
  EXPECT_EQ(admin.verify_problems(), 0);
}

TEST(Retry, CommitOutcomeUnknownButCommittedIsReplayedNotCountedTwice) {
  allot_test::PgProxy proxy;
  Client q{proxy.conninfo(), quick()};
  Admin admin;
  ErrorLog log;
  q.set_listeners(log.listeners());
  const std::string k = key();
  q.set_limit(k, 10);
  proxy.arm(allot_test::PgProxy::Mode::commit_then_drop);
  const Uuid txn = Uuid::random();
  auto d = q.redeem(txn, {k}, 2);
  EXPECT_EQ(proxy.drops(), 1);
  EXPECT_TRUE(d.granted);
  EXPECT_TRUE(d.replayed) << "the first attempt did commit: the retry replays it";
  EXPECT_EQ(log.kinds, std::vector<std::string>{"connection"});
  EXPECT_EQ(admin.used(k), 2);
  EXPECT_EQ(admin.txn_rows(txn), 1);
  EXPECT_EQ(
      admin.value<long long>(
          "SELECT count(*) FROM allot.events WHERE txn = $1::uuid AND kind = 'grant'", txn.str()),
      1);
  EXPECT_EQ(admin.verify_problems(), 0);
}

TEST(Retry, CommitLostBeforeTheServerSawItIsDecidedAfreshAndCountedOnce) {
  allot_test::PgProxy proxy;
  Client q{proxy.conninfo(), quick()};
  Admin admin;
  ErrorLog log;
  q.set_listeners(log.listeners());
  const std::string k = key();
  q.set_limit(k, 10);
  proxy.arm(allot_test::PgProxy::Mode::drop_commit);
  const Uuid txn = Uuid::random();
  auto d = q.redeem(txn, {k}, 2);
  EXPECT_EQ(proxy.drops(), 1);
  EXPECT_TRUE(d.granted);
  EXPECT_FALSE(d.replayed);
  EXPECT_EQ(log.kinds, std::vector<std::string>{"connection"});
  EXPECT_EQ(admin.used(k), 2);
  EXPECT_EQ(admin.verify_problems(), 0);
}

TEST(Retry, ReverseWhoseCommitWasLostIsNotAppliedTwice) {
  allot_test::PgProxy proxy;
  Client q{proxy.conninfo(), quick()};
  Admin admin;
  const std::string k = key();
  q.set_limit(k, 10);
  const Uuid a = Uuid::random(), b = Uuid::random();
  q.redeem(a, {k}, 2);
  q.redeem(b, {k}, 3);
  proxy.arm(allot_test::PgProxy::Mode::commit_then_drop);
  q.reverse(a);  // committed, reply lost, retried: "already reversed"
  EXPECT_EQ(proxy.drops(), 1);
  EXPECT_EQ(admin.used(k), 3);
  EXPECT_EQ(admin.verify_problems(), 0);
}

TEST(Retry, SerializationFailureIsRetriedWithTheSameTxn) {
  Client q{allot_test::conninfo(), quick()};
  Admin admin;
  ErrorLog log;
  q.set_listeners(log.listeners());
  const std::string k = key();
  q.set_limit(k, 10);
  const std::string seq = admin.inject(k, "40001", 2);
  const Uuid txn = Uuid::random();
  auto d = q.redeem(txn, {k});
  EXPECT_TRUE(d.granted);
  EXPECT_FALSE(d.replayed);
  EXPECT_EQ(admin.value<long long>("SELECT last_value FROM " + seq), 3);
  EXPECT_EQ(log.states, (std::vector<std::string>{"40001", "40001"}));
  EXPECT_EQ(admin.used(k), 1);
}

TEST(Retry, DeadlockIsRetried) {
  Client q{allot_test::conninfo(), quick()};
  Admin admin;
  const std::string k = key();
  q.set_limit(k, 10);
  admin.inject(k, "40P01", 1);
  EXPECT_TRUE(q.redeem(Uuid::random(), {k}).granted);
  EXPECT_EQ(admin.used(k), 1);
}

TEST(Retry, GivesUpAfterMaxAttemptsWithTheLastError) {
  Client q{allot_test::conninfo(), quick(3)};
  Admin admin;
  ErrorLog log;
  q.set_listeners(log.listeners());
  const std::string k = key();
  q.set_limit(k, 10);
  const std::string seq = admin.inject(k, "40001", 1000);
  try {
    q.redeem(Uuid::random(), {k});
    FAIL() << "no exception";
  } catch (const allot::Error& e) {
    EXPECT_EQ(e.sqlstate(), "40001");
    EXPECT_NE(std::string(e.what()).find("injected failure"), std::string::npos) << e.what();
  }
  EXPECT_EQ(admin.value<long long>("SELECT last_value FROM " + seq), 3);
  EXPECT_EQ(log.kinds.size(), 3u) << "on_error for every attempt";
  EXPECT_EQ(admin.used(k), 0);
}

TEST(Retry, MaxAttemptsOneMeansNoRetry) {
  Client q{allot_test::conninfo(), quick(1)};
  Admin admin;
  const std::string k = key();
  const std::string seq = admin.inject(k, "40001", 1);
  EXPECT_THROW(q.redeem(Uuid::random(), {k}), allot::Error);
  EXPECT_EQ(admin.value<long long>("SELECT last_value FROM " + seq), 1);
  EXPECT_TRUE(q.redeem(Uuid::random(), {k}).granted);
}

TEST(Retry, BadRequestAndConflictAreNeverRetried) {
  Client q{allot_test::conninfo(), quick()};
  ErrorLog log;
  q.set_listeners(log.listeners());
  EXPECT_THROW(q.redeem(Uuid::random(), {"NoColon"}), allot::BadRequest);
  const Uuid txn = Uuid::random();
  q.redeem(txn, {key()}, 1);
  EXPECT_THROW(q.redeem(txn, {key()}, 2), allot::Conflict);
  EXPECT_EQ(log.kinds, (std::vector<std::string>{"bad_request", "conflict"}));
}

TEST(Retry, UnreachableServerIsConnectionErrorAfterTheRetries) {
  const auto t0 = std::chrono::steady_clock::now();
  try {
    Client q{"host=/nonexistent/allot port=1 dbname=x connect_timeout=2",
             RetryPolicy{3, 10ms, 20ms}};
    FAIL() << "connected to nothing";
  } catch (const allot::ConnectionError& e) {
    EXPECT_NE(std::string(e.what()).find("3 attempts"), std::string::npos) << e.what();
  }
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 30ms) << "backed off 10 ms + 20 ms";
}
