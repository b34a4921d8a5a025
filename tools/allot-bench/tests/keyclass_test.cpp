#include "keyclass.hpp"

#include <gtest/gtest.h>

#include "stats.hpp"

namespace bench {
namespace {

TEST(KeyClass, ReplacesEveryIdWithAStar) {
  EXPECT_EQ(key_class("voucher:V123"), "voucher:*");
  EXPECT_EQ(key_class("voucher:V123/user:U77"), "voucher:*/user:*");
  EXPECT_EQ(key_class("a:1/b:2/c:3/d:4"), "a:*/b:*/c:*/d:*");
  EXPECT_EQ(key_class("shop:S9"), "shop:*");
}

TEST(KeyClass, IdsMayHoldAnythingButSlashAndColon) {
  EXPECT_EQ(key_class("card:3f2a-ü b"), "card:*");
  EXPECT_EQ(key_class("user:*"), "user:*");  // already a class
}

TEST(KeyClass, OddInputIsShownNotHidden) {
  EXPECT_EQ(key_class("nocolon"), "nocolon");
  EXPECT_EQ(key_class(""), "");
  EXPECT_EQ(key_class("voucher:V1/"), "voucher:*/");
}

TEST(Counters, DenialsAreGroupedByClassAndPath) {
  Counters c;
  c.add_decision(false, false, "slow", {"voucher:V1", "user:U1"}, false);
  c.add_decision(false, false, "fast", {"voucher:V2"}, true);
  c.add_decision(true, false, "fast", {}, true);
  c.add_decision(true, true, "slow", {}, false);
  EXPECT_EQ(c.attempts, 4u);
  EXPECT_EQ(c.denied_slow, 1u);
  EXPECT_EQ(c.denied_fast, 1u);
  EXPECT_EQ(c.granted_fast, 1u);
  EXPECT_EQ(c.granted_slow, 1u);
  EXPECT_EQ(c.replayed, 1u);
  EXPECT_EQ(c.hot_attempts, 2u);
  EXPECT_EQ(c.hot_granted, 1u);
  EXPECT_EQ(c.denied_by_class.at("voucher:*"), 2u);
  EXPECT_EQ(c.denied_by_class.at("user:*"), 1u);
}

TEST(Counters, ErrorMessagesAreBounded) {
  Counters c;
  for (int i = 0; i < 100; ++i) c.add_error("error " + std::to_string(i), 2);
  EXPECT_EQ(c.errors, 200u);
  EXPECT_EQ(c.attempts, 200u);
  EXPECT_EQ(c.error_messages.size(), Counters::kMaxDistinctErrors + 1);
  EXPECT_EQ(c.error_messages.at("(other messages)"), 2u * (100 - Counters::kMaxDistinctErrors));
}

}  // namespace
}  // namespace bench
