// FoldTally: what one fold adds to each counter row.
#include "fold_tally.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "error.hpp"

namespace allot {
namespace {

TEST(FoldTally, SumsUnitsPerKeyLimitAndWindow) {
  FoldTally t;
  t.add("voucher:1", 7, 1000, 1);
  t.add("voucher:1", 7, 1000, 2);   // same row
  t.add("voucher:1", 7, 2000, 5);   // another window
  t.add("voucher:1", 8, 1000, 3);   // another limit
  t.add("user:1", 7, 1000, 4);      // another key
  EXPECT_EQ(t.size(), 4u);
  const auto rows = t.take_sorted();
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].key, "user:1");
  EXPECT_EQ(rows[0].units, 4);
  EXPECT_EQ(rows[1].key, "voucher:1");
  EXPECT_EQ(rows[1].limit_id, 7);
  EXPECT_EQ(rows[1].window_start, 1000);
  EXPECT_EQ(rows[1].units, 3);
  EXPECT_EQ(rows[2].limit_id, 7);
  EXPECT_EQ(rows[2].window_start, 2000);
  EXPECT_EQ(rows[2].units, 5);
  EXPECT_EQ(rows[3].limit_id, 8);
  EXPECT_EQ(rows[3].units, 3);
}

TEST(FoldTally, ReversalsSubtractAndZeroSumsStay) {
  // A grant and its reversal in one fold: the row is still written (with
  // 0), as the SQL fold did, so that the counter row exists.
  FoldTally t;
  t.add("k", 1, 0, 5);
  t.add("k", 1, 0, -5);
  t.add("k", 2, 0, -3);
  const auto rows = t.take_sorted();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].units, 0);
  EXPECT_EQ(rows[1].units, -3);
}

TEST(FoldTally, KeysSortBytewiseAsCollateC) {
  // Lock order must match the other writers of allot.counters, which sort
  // keys with COLLATE "C": bytes compared unsigned, so "é" (0xC3..) after
  // "z", and "B" before "a".
  FoldTally t;
  t.add("\xC3\xA9", 1, 0, 1);
  t.add("z", 1, 0, 1);
  t.add("a", 1, 0, 1);
  t.add("B", 1, 0, 1);
  t.add("a", 1, -5, 1);  // a window before the epoch sorts first
  const auto rows = t.take_sorted();
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0].key, "B");
  EXPECT_EQ(rows[1].key, "a");
  EXPECT_EQ(rows[1].window_start, -5);
  EXPECT_EQ(rows[2].key, "a");
  EXPECT_EQ(rows[3].key, "z");
  EXPECT_EQ(rows[4].key, "\xC3\xA9");
}

TEST(FoldTally, KeysWithEmbeddedBytesStayDistinct) {
  FoldTally t;
  t.add(std::string_view("a\0b", 3), 1, 0, 1);
  t.add("a", 1, 0, 1);
  EXPECT_EQ(t.size(), 2u);
}

TEST(FoldTally, TakeSortedForgetsTheRows) {
  FoldTally t;
  t.add("k", 1, 0, 2);
  EXPECT_EQ(t.take_sorted().size(), 1u);
  EXPECT_EQ(t.size(), 0u);
  t.add("k", 1, 0, 3);
  const auto rows = t.take_sorted();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].units, 3);  // not 5: the first take cleared the sum
}

TEST(FoldTally, OverflowIsAnErrorNotAWrap) {
  FoldTally t;
  t.add("k", 1, 0, std::numeric_limits<std::int64_t>::max());
  try {
    t.add("k", 1, 0, 1);
    FAIL() << "expected BadInput";
  } catch (const BadInput& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNumericOutOfRange);
  }
  FoldTally u;
  u.add("k", 1, 0, std::numeric_limits<std::int64_t>::min());
  EXPECT_THROW(u.add("k", 1, 0, -1), BadInput);
}

TEST(FoldTally, ManyRowsAllKept) {
  FoldTally t;
  for (int i = 0; i < 20000; ++i) t.add("key:" + std::to_string(i % 5000), i % 3, 0, 1);
  EXPECT_EQ(t.size(), 15000u);
  std::int64_t total = 0;
  for (const auto& r : t.take_sorted()) total += r.units;
  EXPECT_EQ(total, 20000);
}

}  // namespace
}  // namespace allot
