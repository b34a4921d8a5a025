// Listeners and Client move semantics.
#include "test_db.hpp"

using allot::Client;
using allot::Uuid;
using allot_test::key;

TEST(Listeners, GrantDenialAndErrorAreReportedWithTheRequest) {
  Client q{allot_test::conninfo()};
  const std::string k = key();
  q.set_limit(k, 1);
  std::vector<std::pair<std::string, allot::Request>> seen;
  std::vector<std::string> errors;
  allot::Listeners l;
  l.on_grant = [&](const allot::Request& r, const allot::Decision& d) {
    EXPECT_TRUE(d.granted);
    seen.emplace_back("grant", r);
  };
  l.on_denial = [&](const allot::Request& r, const allot::Decision& d) {
    EXPECT_FALSE(d.granted);
    EXPECT_EQ(d.denied_keys, std::vector<std::string>{k});
    seen.emplace_back("deny", r);
  };
  l.on_error = [&](const std::exception& e) { errors.push_back(e.what()); };
  q.set_listeners(l);
  const Uuid a = Uuid::random(), b = Uuid::random();
  q.redeem(a, {k});
  q.redeem(b, {k}, 1);
  EXPECT_THROW(q.redeem(Uuid::random(), {"NoColon"}), allot::BadRequest);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].first, "grant");
  EXPECT_EQ(seen[0].second.txn, a);
  EXPECT_EQ(seen[0].second.keys, std::vector<std::string>{k});
  EXPECT_EQ(seen[1].first, "deny");
  EXPECT_EQ(seen[1].second.txn, b);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("NoColon"), std::string::npos) << errors[0];

  // redeem_many: one call per item; a bad item goes to on_error
  seen.clear();
  errors.clear();
  q.redeem_many(
      {{Uuid::random(), {key("-2")}, 1}, {Uuid::random(), {k}, 1}, {Uuid::random(), {"Bad"}, 1}});
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].first, "grant");
  EXPECT_EQ(seen[1].first, "deny");
  EXPECT_EQ(errors.size(), 1u);
  // in the caller's work too
  seen.clear();
  {
    pqxx::work w{q.connection()};
    q.redeem(w, Uuid::random(), {key("-3")});
  }
  EXPECT_EQ(seen.size(), 1u);
}

TEST(Client, MoveKeepsTheConnectionAndEmptiesTheSource) {
  Client a{allot_test::conninfo()};
  pqxx::connection* conn = &a.connection();
  Client b{std::move(a)};
  EXPECT_EQ(&b.connection(), conn);
  EXPECT_TRUE(b.redeem(Uuid::random(), {key()}).granted);
  EXPECT_THROW(a.redeem(Uuid::random(), {key()}), allot::Error);  // NOLINT(bugprone-use-after-move)
  Client c{allot_test::conninfo()};
  c = std::move(b);
  EXPECT_EQ(&c.connection(), conn);
  EXPECT_TRUE(c.redeem(Uuid::random(), {key()}).granted);
  EXPECT_THROW(b.connection(), allot::Error);  // NOLINT(bugprone-use-after-move)
  a = std::move(c);                            // a moved-from client can be assigned to again
  EXPECT_TRUE(a.redeem(Uuid::random(), {key()}).granted);
  EXPECT_EQ(a.retry_policy().max_attempts, allot::RetryPolicy{}.max_attempts);
}

TEST(Client, RetryPolicyIsKept) {
  Client q{allot_test::conninfo(),
           allot::RetryPolicy{7, std::chrono::milliseconds{3}, std::chrono::milliseconds{9}}};
  EXPECT_EQ(q.retry_policy().max_attempts, 7);
  EXPECT_EQ(q.retry_policy().first_backoff.count(), 3);
  EXPECT_EQ(q.retry_policy().max_backoff.count(), 9);
}
