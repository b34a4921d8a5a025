// Client::redeem in its own transaction and in the caller's pqxx::work.
#include <algorithm>

#include "test_db.hpp"

using allot::Client;
using allot::Decision;
using allot::Uuid;
using allot_test::Admin;
using allot_test::key;

TEST(Redeem, GrantsWhileThereIsRoomThenDeniesWithTheDeniedKey) {
  Client q{allot_test::conninfo()};
  Admin admin;
  const std::string k = key(), other = key("-other");
  q.set_limit(k, 2, std::chrono::hours{1});
  Decision a = q.redeem(Uuid::random(), {k, other});
  EXPECT_TRUE(a.granted);
  EXPECT_FALSE(a.replayed);
  EXPECT_TRUE(a.path == "slow" || a.path == "fast") << a.path;
  EXPECT_TRUE(a.denied_keys.empty());
  EXPECT_FALSE(a.retry_after.has_value());
  EXPECT_TRUE(q.redeem(Uuid::random(), {k}).granted);
  Decision c = q.redeem(Uuid::random(), {k, other});
  EXPECT_FALSE(c.granted);
  EXPECT_EQ(c.denied_keys, std::vector<std::string>{k});
  ASSERT_TRUE(c.retry_after.has_value());
  EXPECT_GT(c.retry_after->count(), 0);
  EXPECT_EQ(admin.used(k), 2);
  EXPECT_EQ(admin.verify_problems(), 0);
}

TEST(Redeem, SameTxnReplaysWithoutConsumingAgain) {
  Client q{allot_test::conninfo()};
  Admin admin;
  const std::string k = key();
  q.set_limit(k, 10);
  const Uuid txn = Uuid::random();
  EXPECT_FALSE(q.redeem(txn, {k}, 3).replayed);
  Decision again = q.redeem(txn, {k}, 3);
  EXPECT_TRUE(again.granted);
  EXPECT_TRUE(again.replayed);
  EXPECT_EQ(admin.used(k), 3);
}

TEST(Redeem, SameTxnWithOtherAmountThrowsConflict23505) {
  Client q{allot_test::conninfo()};
  const std::string k = key();
  const Uuid txn = Uuid::random();
  q.redeem(txn, {k}, 1);
  try {
    q.redeem(txn, {k}, 2);
    FAIL() << "no exception";
  } catch (const allot::Conflict& e) {
    EXPECT_EQ(e.sqlstate(), "23505");
    EXPECT_NE(std::string(e.what()).find("already granted"), std::string::npos) << e.what();
  }
  EXPECT_THROW(q.redeem(txn, {k, key("-b")}, 1), allot::Conflict);
}

TEST(Redeem, MalformedKeyThrowsBadRequestAndConsumesNothing) {
  Client q{allot_test::conninfo()};
  Admin admin;
  const std::string k = key();
  q.set_limit(k, 5);
  const Uuid txn = Uuid::random();
  for (const std::vector<std::string>& keys :
       std::vector<std::vector<std::string>>{{k, "NoColon"}, {}, {k, k}, {k, "voucher:"}}) {
    try {
      q.redeem(txn, keys);
      ADD_FAILURE() << "no exception for " << keys.size() << " keys";
    } catch (const allot::BadRequest& e) {
      EXPECT_EQ(e.sqlstate().substr(0, 2), "22") << e.what();
      EXPECT_FALSE(std::string(e.what()).empty());
    }
  }
  EXPECT_EQ(admin.used(k), 0);
  EXPECT_EQ(admin.txn_rows(txn), 0);
  // The txn was never granted: it can still be used.
  EXPECT_FALSE(q.redeem(txn, {k}).replayed);
  EXPECT_EQ(admin.used(k), 1);
}

TEST(Redeem, AmountZeroOrNegativeThrowsBadRequestAndConsumesNothing) {
  Client q{allot_test::conninfo()};
  Admin admin;
  const std::string k = key();
  q.set_limit(k, 5);
  const Uuid txn = Uuid::random();
  try {
    q.redeem(txn, {k}, 0);
    FAIL() << "no exception";
  } catch (const allot::BadRequest& e) {
    EXPECT_NE(std::string(e.what()).find("amount"), std::string::npos) << e.what();
  }
  EXPECT_THROW(q.redeem(txn, {k}, -1), allot::BadRequest);
  EXPECT_EQ(admin.used(k), 0);
  EXPECT_EQ(admin.txn_rows(txn), 0);
}

TEST(Redeem, KeysWithQuotesBackslashesCommasBracesAndNullAreSentIntact) {
  Client q{allot_test::conninfo()};
  Admin admin;
  std::vector<std::string> keys = {key("\"q\\b,c{d}e f"), key("NULL"), "voucher:NULL",
                                   key("-\xc3\xbc")};
  const Uuid txn = Uuid::random();
  ASSERT_TRUE(q.redeem(txn, keys).granted);
  std::sort(keys.begin(), keys.end());  // allot.txns keeps them sorted (C collation)
  pqxx::connection c{allot_test::conninfo()};
  pqxx::nontransaction n{c};
  pqxx::result r = n.exec_params(
      "SELECT k FROM allot.txns, unnest(keys) k WHERE txn = $1::uuid ORDER BY k COLLATE \"C\"",
      txn.str());
  std::vector<std::string> stored;
  for (const auto& row : r) stored.push_back(row[0].as<std::string>());
  EXPECT_EQ(stored, keys);
}

TEST(Redeem, KeyWithNulByteIsBadRequestBeforeReachingTheServer) {
  Client q{allot_test::conninfo()};
  EXPECT_THROW(q.redeem(Uuid::random(), {std::string("voucher:a\0b", 11)}), allot::BadRequest);
}

TEST(Redeem, InCallersWorkCountsOnceTheWorkCommits) {
  Client q{allot_test::conninfo()};
  Admin admin;
  const std::string k = key();
  q.set_limit(k, 5);
  const Uuid txn = Uuid::random();
  {
    pqxx::work w{q.connection()};
    Decision d = q.redeem(w, txn, {k}, 2);
    EXPECT_TRUE(d.granted);
    EXPECT_EQ(admin.used(k), 0) << "visible before the caller committed";
    w.commit();
  }
  EXPECT_EQ(admin.used(k), 2);
  EXPECT_EQ(admin.txn_rows(txn), 1);
}

TEST(Redeem, InCallersWorkAbortedLeavesNothingConsumed) {
  Client q{allot_test::conninfo()};
  Admin admin;
  const std::string k = key();
  q.set_limit(k, 5);
  const Uuid aborted = Uuid::random(), dropped = Uuid::random();
  {
    pqxx::work w{q.connection()};
    EXPECT_TRUE(q.redeem(w, aborted, {k}, 5).granted);
    w.abort();
  }
  {
    pqxx::work w{q.connection()};
    EXPECT_TRUE(q.redeem(w, dropped, {k}, 5).granted);
  }  // destroyed without commit
  EXPECT_EQ(admin.used(k), 0);
  EXPECT_EQ(admin.txn_rows(aborted), 0);
  EXPECT_EQ(admin.txn_rows(dropped), 0);
  EXPECT_EQ(
      admin.value<long long>("SELECT count(*) FROM allot.events WHERE txn IN ($1::uuid, $2::uuid)",
                             aborted.str(), dropped.str()),
      0);
  // Both txns are fresh again: all 5 units are still there.
  EXPECT_TRUE(q.redeem(aborted, {k}, 5).granted);
  EXPECT_EQ(admin.verify_problems(), 0);
}

TEST(Redeem, InCallersWorkErrorsAreMappedAndNotRetried) {
  Client q{allot_test::conninfo()};
  Admin admin;
  const std::string k = key();
  const std::string seq = admin.inject(k, "40001", 1);
  pqxx::work w{q.connection()};
  try {
    q.redeem(w, Uuid::random(), {k});
    FAIL() << "no exception";
  } catch (const allot::Error& e) {
    EXPECT_EQ(e.sqlstate(), "40001");
  }
  EXPECT_EQ(admin.value<long long>("SELECT last_value FROM " + seq), 1) << "retried";
}

TEST(Redeem, WorkOnAnotherConnectionIsRejected) {
  Client q{allot_test::conninfo()};
  pqxx::connection other{allot_test::conninfo()};
  pqxx::work w{other};
  EXPECT_THROW(q.redeem(w, Uuid::random(), {key()}), allot::Error);
}
