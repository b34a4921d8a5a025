// The fast path's shared key table, exercised with real threads: the same
// atomics run across processes in PostgreSQL shared memory.
#include "key_table.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace allot {
namespace {

struct Table {
  explicit Table(std::size_t keys = 64)
      : memory(new unsigned char[KeyTable::bytes_for(keys)]),
        table(KeyTable::create(memory.get(), keys)) {}
  std::unique_ptr<unsigned char[]> memory;
  KeyTable* table;

  KeySlot* make_fast(std::string_view key) {
    auto claimed = table->find_or_claim(1, key);
    EXPECT_TRUE(claimed && claimed->created);
    KeySlot* s = claimed->slot.get();
    s->state.store(static_cast<std::uint32_t>(KeyState::kFast));
    return s;
  }
};

struct TableFixture : ::testing::Test, Table {};

TEST_F(TableFixture, FindsWhatWasClaimedAndOnlyInItsDatabase) {
  EXPECT_FALSE(table->find(1, "voucher:V1"));
  make_fast("voucher:V1");
  EXPECT_TRUE(table->find(1, "voucher:V1"));
  EXPECT_FALSE(table->find(2, "voucher:V1"));
  EXPECT_FALSE(table->find(1, "voucher:V2"));
  EXPECT_EQ(table->used_slots(), 1u);
}

TEST_F(TableFixture, ClaimingTheSameKeyTwiceFindsTheFirstSlot) {
  KeySlot* first = make_fast("user:U1");
  auto again = table->find_or_claim(1, "user:U1");
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->slot.get(), first);
}

TEST_F(TableFixture, ConcurrentClaimsOfOneKeyCreateOneSlot) {
  std::atomic<int> created{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        auto c = table->find_or_claim(1, "shop:S" + std::to_string(i % 20));
        if (c && c->created) {
          ++created;
          c->slot->state.store(static_cast<std::uint32_t>(KeyState::kFast));
        }
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), 20);
  EXPECT_EQ(table->used_slots(), 20u);
}

TEST_F(TableFixture, AFullBucketSaysSoInsteadOfOverwriting) {
  // A table of one bucket: the ninth key has nowhere to go.
  Table small_table(kSlotsPerBucket);
  for (int i = 0; i < kSlotsPerBucket; ++i) small_table.make_fast("k:" + std::to_string(i));
  EXPECT_FALSE(small_table.table->find_or_claim(1, "k:extra"));
  for (int i = 0; i < kSlotsPerBucket; ++i)
    EXPECT_TRUE(small_table.table->find(1, "k:" + std::to_string(i)));
}

TEST_F(TableFixture, RetireWaitsForPinsAndHolders) {
  KeySlot* s = make_fast("voucher:V1");
  {
    PinnedSlot pinned = table->find(1, "voucher:V1");
    EXPECT_FALSE(KeyTable::retire(s, KeyState::kFast));  // pinned
  }
  s->holders.store(1);
  EXPECT_FALSE(KeyTable::retire(s, KeyState::kFast));  // a transaction holds units
  EXPECT_EQ(s->load_state(), KeyState::kFast);
  s->holders.store(0);
  EXPECT_FALSE(KeyTable::retire(s, KeyState::kSlow));  // not in that state
  EXPECT_TRUE(KeyTable::retire(s, KeyState::kFast));
  EXPECT_FALSE(table->find(1, "voucher:V1"));
  EXPECT_EQ(table->used_slots(), 0u);
}

// The rollup decides a key is idle and folded, then retires it. A grant
// that joined, counted and left in between must keep the slot: the
// counters the next load reads do not hold it yet.
TEST_F(TableFixture, RetireRefusesASlotWithAGrantNewerThanTheFold) {
  KeySlot* s = make_fast("voucher:V1");
  s->max_event_seq.store(40);
  const std::int64_t folded_upto = 50;
  s->max_event_seq.store(51);  // the late grant, committed and gone
  EXPECT_FALSE(KeyTable::retire(s, KeyState::kFast, folded_upto));
  EXPECT_EQ(s->load_state(), KeyState::kFast);
  EXPECT_TRUE(table->find(1, "voucher:V1"));
  EXPECT_TRUE(KeyTable::retire(s, KeyState::kFast, 51));
}

TEST_F(TableFixture, ReserveNeverPassesMaxAndShadowNeverDenies) {
  KeySlot* s = make_fast("voucher:V1");
  Meter* m = assign_meter(*s, 7, 100, 8);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(assign_meter(*s, 7, 100, 0), m);  // already there
  Reservation r = reserve(*m, 7, 100, 2, 10, true);
  EXPECT_EQ(r.result, Reservation::Result::kReserved);
  EXPECT_EQ(r.used, 8);
  r = reserve(*m, 7, 100, 1, 10, true);
  EXPECT_EQ(r.result, Reservation::Result::kNoRoom);
  EXPECT_EQ(r.used, 10);
  r = reserve(*m, 7, 100, 5, 10, false);
  EXPECT_EQ(r.result, Reservation::Result::kReserved);
  EXPECT_EQ(*peek(*m, 7), 15);
  // An amount that would overflow is simply out of room.
  r = reserve(*m, 7, 100, INT64_MAX, INT64_MAX, true);
  EXPECT_EQ(r.result, Reservation::Result::kNoRoom);
}

TEST_F(TableFixture, ManyThreadsOnOneMeterGrantExactlyMax) {
  KeySlot* s = make_fast("voucher:HOT");
  Meter* m = assign_meter(*s, 1, 0, 0);
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        Reservation r = reserve(*m, 1, 0, 1, 5000, true);
        if (r.result != Reservation::Result::kReserved) continue;
        // Every seventh reservation "rolls back" and gives its unit back.
        if ((i + t) % 7 == 0)
          give_back(*m, r.generation, 1);
        else
          ++granted;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(granted.load(), 5000);
  EXPECT_EQ(*peek(*m, 1), 5000);
}

TEST_F(TableFixture, WindowsOnlyMoveForward) {
  KeySlot* s = make_fast("shop:S1");
  Meter* m = assign_meter(*s, 3, 1000, 4);
  EXPECT_EQ(reserve(*m, 3, 2000, 1, 5, true).result, Reservation::Result::kNeedsRoll);
  roll_meter(*m, 3, 2000, 0);
  Reservation r = reserve(*m, 3, 2000, 1, 5, true);
  EXPECT_EQ(r.result, Reservation::Result::kReserved);
  EXPECT_EQ(r.used, 0);
  // A session whose decision time is behind is told so, and counts
  // nothing: its window is not the meter's any more.
  r = reserve(*m, 3, 1000, 1, 5, true);
  EXPECT_EQ(r.result, Reservation::Result::kAhead);
  EXPECT_EQ(*peek(*m, 3), 1);
  // Rolling backwards is a no-op.
  roll_meter(*m, 3, 1000, 99);
  EXPECT_EQ(*peek(*m, 3), 1);
}

TEST_F(TableFixture, AGiveBackAfterTheWindowMovedIsDropped) {
  KeySlot* s = make_fast("shop:S1");
  Meter* m = assign_meter(*s, 3, 1000, 0);
  Reservation old = reserve(*m, 3, 1000, 3, 5, true);
  roll_meter(*m, 3, 2000, 1);
  give_back(*m, old.generation, 3);
  EXPECT_EQ(*peek(*m, 3), 1);
}

TEST_F(TableFixture, MetersRunOutAndCanBeFreed) {
  KeySlot* s = make_fast("voucher:V1");
  for (int i = 1; i <= kMetersPerKey; ++i) ASSERT_NE(assign_meter(*s, i, 0, 0), nullptr);
  EXPECT_EQ(assign_meter(*s, 99, 0, 0), nullptr);
  Meter* first = find_meter(*s, 1);
  Reservation r = reserve(*first, 1, 0, 1, 10, true);
  ASSERT_TRUE(free_meter(*s, *first));
  EXPECT_EQ(find_meter(*s, 1), nullptr);
  EXPECT_EQ(reserve(*first, 1, 0, 1, 10, true).result, Reservation::Result::kRetry);
  Meter* reused = assign_meter(*s, 99, 0, 0);
  EXPECT_EQ(reused, first);
  give_back(*reused, r.generation, 1);  // belongs to the freed limit: dropped
  EXPECT_EQ(*peek(*reused, 99), 0);
}

TEST_F(TableFixture, RollWhileReservingLosesNoUnitAndPassesNoMax) {
  KeySlot* s = make_fast("voucher:V1");
  Meter* m = assign_meter(*s, 1, 0, 0);
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> in_window[4] = {};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      while (!stop) {
        const std::int64_t w = m->window_start.load();
        Reservation r = reserve(*m, 1, w, 1, 100, true);
        if (r.result == Reservation::Result::kReserved) ++in_window[r.window_start];
      }
    });
  for (std::int64_t w = 1; w < 4; ++w) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    roll_meter(*m, 1, w, 0);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  stop = true;
  for (auto& t : threads) t.join();
  for (auto& n : in_window) EXPECT_LE(n.load(), 100);
  EXPECT_EQ(in_window[3].load(), 100);
}

}  // namespace
}  // namespace allot
