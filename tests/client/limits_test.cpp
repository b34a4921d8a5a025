// set_limit (chrono and interval text), drop_limit, retry_after in ms.
#include "test_db.hpp"

using allot::Client;
using allot::LimitOptions;
using allot::Uuid;
using allot_test::Admin;
using allot_test::key;
using namespace std::chrono_literals;

TEST(SetLimit, ChronoPerBecomesThatIntervalAndUpdatesInPlace) {
  Client q{allot_test::conninfo()};
  Admin admin;
  const std::string k = key();
  const std::int64_t id = q.set_limit(k, 10, 24h);
  EXPECT_EQ(
      admin.value<double>("SELECT extract(epoch FROM per) FROM allot.limits WHERE id = $1", id),
      86400.0);
  EXPECT_EQ(q.set_limit(k, 20, 24h), id) << "same (scope, per, sliding, valid): same limit";
  EXPECT_EQ(admin.value<long long>("SELECT max FROM allot.limits WHERE id = $1", id), 20);
  const std::int64_t fine = q.set_limit(k, 3, 1500ms);
  EXPECT_NE(fine, id);
  EXPECT_EQ(admin.value<std::string>("SELECT per::text FROM allot.limits WHERE id = $1", fine),
            "00:00:01.5");
}

TEST(SetLimit, IntervalTextKeepsCalendarMonths) {
  Client q{allot_test::conninfo()};
  Admin admin;
  const std::int64_t id = q.set_limit(key(), 4, std::string("1 month"));
  EXPECT_EQ(admin.value<std::string>("SELECT per::text FROM allot.limits WHERE id = $1", id),
            "1 mon");
  EXPECT_THROW(q.set_limit(key(), 4, std::string("fortnight")), allot::BadRequest);
}

TEST(SetLimit, ZeroPerIsATotalAndOptionsArePassed) {
  Client q{allot_test::conninfo()};
  Admin admin;
  const std::int64_t total = q.set_limit(key(), 7);
  EXPECT_TRUE(
      admin.value<bool>("SELECT per IS NULL AND NOT sliding AND valid = '(,)' AND mode = 'enforce' "
                        "FROM allot.limits WHERE id = $1",
                        total));
  LimitOptions o;
  o.sliding = true;
  o.valid = "[2026-12-01 00:00+00,2027-01-01 00:00+00)";
  o.mode = "shadow";
  const std::int64_t id = q.set_limit(key("-opt"), 7, 1h, o);
  EXPECT_TRUE(
      admin.value<bool>("SELECT sliding AND mode = 'shadow' AND valid = '[2026-12-01 "
                        "00:00+00,2027-01-01 00:00+00)'::tstzrange "
                        "FROM allot.limits WHERE id = $1",
                        id));
  EXPECT_THROW(q.set_limit("NoColon", 1), allot::BadRequest);
  EXPECT_THROW(q.set_limit(key(), 0), allot::BadRequest);
}

TEST(DropLimit, DropsTheLimitWithThatPerAndReportsHowMany) {
  Client q{allot_test::conninfo()};
  Admin admin;
  const std::string k = key();
  q.set_limit(k, 1, 1h);
  q.set_limit(k, 1);
  EXPECT_EQ(q.drop_limit(k, 1h), 1);
  EXPECT_EQ(q.drop_limit(k, 1h), 0);
  EXPECT_EQ(admin.value<long long>("SELECT count(*) FROM allot.limits WHERE scope = $1", k), 1);
  EXPECT_EQ(q.drop_limit(k), 1);
  EXPECT_EQ(admin.value<long long>("SELECT count(*) FROM allot.limits WHERE scope = $1", k), 0);
}

TEST(RetryAfter, IsWholeMillisecondsUntilTheWindowHasRoom) {
  Client q{allot_test::conninfo()};
  Admin admin;
  const std::string k = key();
  // A 1-hour fixed window aligned so that it ends 1799.5 s from now.
  LimitOptions o;
  o.valid =
      admin.value<std::string>("SELECT tstzrange(now() - interval '1800.5 seconds', NULL)::text");
  q.set_limit(k, 1, 1h, o);
  ASSERT_TRUE(q.redeem(Uuid::random(), {k}).granted);
  auto d = q.redeem(Uuid::random(), {k});
  ASSERT_FALSE(d.granted);
  ASSERT_TRUE(d.retry_after.has_value());
  EXPECT_LE(d.retry_after->count(), 1799500);
  EXPECT_GE(d.retry_after->count(), 1799500 - 60000);
  auto c = q.can_redeem({k});
  ASSERT_EQ(c.size(), 1u);
  ASSERT_TRUE(c[0].retry_after.has_value());
  EXPECT_LE(c[0].retry_after->count(), d.retry_after->count());
  EXPECT_GE(c[0].retry_after->count(), 1799500 - 60000);
}

TEST(RetryAfter, IsEmptyWhenGrantedOrWhenATotalIsSpent) {
  Client q{allot_test::conninfo()};
  const std::string k = key();
  q.set_limit(k, 1);
  auto g = q.redeem(Uuid::random(), {k});
  EXPECT_TRUE(g.granted);
  EXPECT_FALSE(g.retry_after.has_value());
  auto d = q.redeem(Uuid::random(), {k});
  EXPECT_FALSE(d.granted);
  EXPECT_FALSE(d.retry_after.has_value());
}
