// redeem_many, can_redeem and reverse.
#include "test_db.hpp"

using allot::Client;
using allot::Request;
using allot::Uuid;
using allot_test::Admin;
using allot_test::key;

TEST(RedeemMany, ReturnsOneDecisionPerItemInOrderWithPerItemErrors) {
  Client q{allot_test::conninfo()};
  Admin admin;
  const std::string k = key();
  q.set_limit(k, 2);
  const Uuid first = Uuid::random();
  std::vector<Request> reqs = {
      {first, {k}, 1},
      {Uuid::random(), {k}, 1},
      {Uuid::random(), {k}, 1},          // no room left
      {Uuid::random(), {"NoColon"}, 1},  // malformed key
      {first, {k}, 2},                   // same txn, other amount
      {first, {k}, 1},                   // replay
  };
  auto r = q.redeem_many(reqs);
  ASSERT_EQ(r.size(), reqs.size());
  for (std::size_t i = 0; i < r.size(); ++i) EXPECT_EQ(r[i].idx, static_cast<int>(i));
  EXPECT_TRUE(r[0].granted);
  EXPECT_TRUE(r[1].granted);
  EXPECT_FALSE(r[2].granted);
  EXPECT_FALSE(r[2].error.has_value());
  EXPECT_EQ(r[2].denied_keys, std::vector<std::string>{k});
  EXPECT_FALSE(r[2].retry_after.has_value()) << "a spent total: waiting cannot help";
  EXPECT_FALSE(r[3].granted);
  ASSERT_TRUE(r[3].error.has_value());
  EXPECT_NE(r[3].error->find("NoColon"), std::string::npos) << *r[3].error;
  EXPECT_FALSE(r[4].granted);
  EXPECT_TRUE(r[4].error.has_value());
  EXPECT_TRUE(r[5].granted);
  EXPECT_TRUE(r[5].replayed);
  EXPECT_FALSE(r[0].error.has_value());
  EXPECT_EQ(admin.used(k), 2);
}

TEST(RedeemMany, KeysNeedingJsonEscapesArriveIntact) {
  Client q{allot_test::conninfo()};
  Admin admin;
  const std::string k = key("\"quote\\back slash \xc3\xa9");
  const Uuid txn = Uuid::random();
  auto r = q.redeem_many({{txn, {k}, 4}});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].granted) << r[0].error.value_or("");
  EXPECT_EQ(
      admin.value<std::string>("SELECT keys[1] FROM allot.txns WHERE txn = $1::uuid", txn.str()),
      k);
  EXPECT_EQ(admin.value<long long>("SELECT amount FROM allot.txns WHERE txn = $1::uuid", txn.str()),
            4);
}

TEST(RedeemMany, InvalidUtf8IsBadRequestAndEmptyBatchIsEmpty) {
  Client q{allot_test::conninfo()};
  EXPECT_THROW(q.redeem_many({{Uuid::random(), {key("\xff\xfe")}, 1}}), allot::BadRequest);
  EXPECT_TRUE(q.redeem_many({}).empty());
}

TEST(RedeemMany, InCallersWorkRollsBackWithIt) {
  Client q{allot_test::conninfo()};
  Admin admin;
  const std::string k = key();
  {
    pqxx::work w{q.connection()};
    auto r = q.redeem_many(w, {{Uuid::random(), {k}, 1}, {Uuid::random(), {k}, 1}});
    EXPECT_EQ(r.size(), 2u);
  }
  EXPECT_EQ(admin.value<long long>("SELECT count(*) FROM allot.txns WHERE $1 = ANY (keys)", k), 0);
}

TEST(CanRedeem, ReportsEachLimitsRoomAndConsumesNothing) {
  Client q{allot_test::conninfo()};
  Admin admin;
  const std::string k = key();
  const std::int64_t id = q.set_limit(k, 5, std::chrono::hours{24});
  q.redeem(Uuid::random(), {k}, 2);
  auto ok = q.can_redeem({k}, 3);
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_EQ(ok[0].key, k);
  EXPECT_EQ(ok[0].limit_id, id);
  EXPECT_TRUE(ok[0].allowed);
  EXPECT_EQ(ok[0].remaining, 3);
  auto no = q.can_redeem({k}, 4);
  ASSERT_EQ(no.size(), 1u);
  EXPECT_FALSE(no[0].allowed);
  ASSERT_TRUE(no[0].retry_after.has_value());
  EXPECT_GT(no[0].retry_after->count(), 0);
  EXPECT_LE(no[0].retry_after->count(), 24 * 3600 * 1000);
  EXPECT_TRUE(q.can_redeem({key("-unlimited")}).empty());
  EXPECT_EQ(admin.used(k), 2);
  EXPECT_THROW(q.can_redeem({"NoColon"}), allot::BadRequest);
}

TEST(Reverse, TrueOnceThenFalseAndGivesTheUnitsBack) {
  Client q{allot_test::conninfo()};
  Admin admin;
  const std::string k = key();
  q.set_limit(k, 3);
  const Uuid txn = Uuid::random();
  q.redeem(txn, {k}, 3);
  EXPECT_FALSE(q.redeem(Uuid::random(), {k}).granted);
  EXPECT_TRUE(q.reverse(txn, "refund: \"it's\" broken"));
  EXPECT_FALSE(q.reverse(txn));
  EXPECT_EQ(admin.used(k), 0);
  EXPECT_EQ(admin.value<std::string>("SELECT reverse_reason FROM allot.txns WHERE txn = $1::uuid",
                                     txn.str()),
            "refund: \"it's\" broken");
  EXPECT_TRUE(q.redeem(Uuid::random(), {k}, 3).granted);
  EXPECT_EQ(admin.verify_problems(), 0);
}

TEST(Reverse, UnknownTxnIsFalse) {
  Client q{allot_test::conninfo()};
  EXPECT_FALSE(q.reverse(Uuid::random()));
}

TEST(Reverse, InCallersWorkAbortedReversesNothing) {
  Client q{allot_test::conninfo()};
  Admin admin;
  const std::string k = key();
  q.set_limit(k, 10);
  const Uuid txn = Uuid::random();
  q.redeem(txn, {k}, 2);
  {
    pqxx::work w{q.connection()};
    EXPECT_TRUE(q.reverse(w, txn));
    w.abort();
  }
  EXPECT_EQ(admin.used(k), 2);
  EXPECT_TRUE(q.reverse(txn)) << "the aborted reversal did not stay";
  EXPECT_EQ(admin.used(k), 0);
}
