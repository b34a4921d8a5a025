#include "request.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace allot {
namespace {

using test::ThrowsBadInput;

const Uuid kSample = {0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8,
                      0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11};

// --- parse_uuid / format_uuid -------------------------------------------------

TEST(Uuid, ParsesTheHyphenatedForm) {
  EXPECT_EQ(parse_uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), kSample);
}

TEST(Uuid, ParsesThirtyTwoPlainHexDigits) {
  EXPECT_EQ(parse_uuid("a0eebc999c0b4ef8bb6d6bb9bd380a11"), kSample);
}

TEST(Uuid, ParsesBracedForms) {
  EXPECT_EQ(parse_uuid("{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}"), kSample);
  EXPECT_EQ(parse_uuid("{a0eebc999c0b4ef8bb6d6bb9bd380a11}"), kSample);
}

TEST(Uuid, ParsesUppercaseAndMixedCase) {
  EXPECT_EQ(parse_uuid("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"), kSample);
  EXPECT_EQ(parse_uuid("A0eEbC99-9c0B-4eF8-Bb6D-6bB9bD380a11"), kSample);
}

TEST(Uuid, ParsesNilAndAllOnes) {
  EXPECT_EQ(parse_uuid("00000000-0000-0000-0000-000000000000"), Uuid{});
  Uuid ones;
  ones.fill(0xFF);
  EXPECT_EQ(parse_uuid("ffffffff-ffff-ffff-ffff-ffffffffffff"), ones);
}

TEST(Uuid, RejectsWrongLengths) {
  EXPECT_EQ(parse_uuid(""), std::nullopt);
  EXPECT_EQ(parse_uuid("{}"), std::nullopt);
  EXPECT_EQ(parse_uuid("a0eebc999c0b4ef8bb6d6bb9bd380a1"), std::nullopt);      // 31
  EXPECT_EQ(parse_uuid("a0eebc999c0b4ef8bb6d6bb9bd380a111"), std::nullopt);    // 33
  EXPECT_EQ(parse_uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1"), std::nullopt);  // 35
  EXPECT_EQ(parse_uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111"), std::nullopt);
}

TEST(Uuid, RejectsNonHexCharacters) {
  EXPECT_EQ(parse_uuid("g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), std::nullopt);
  EXPECT_EQ(parse_uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1 "), std::nullopt);
  EXPECT_EQ(parse_uuid("a0eebc99 9c0b 4ef8 bb6d 6bb9bd380a11"), std::nullopt);
  EXPECT_EQ(parse_uuid("a0eebc999c0b4ef8bb6d6bb9bd380a1-"), std::nullopt);
}

TEST(Uuid, RejectsHyphensInTheWrongPlaces) {
  EXPECT_EQ(parse_uuid("a0eebc999-c0b-4ef8-bb6d-6bb9bd380a11"), std::nullopt);
  EXPECT_EQ(parse_uuid("a0eebc99-9c0b-4ef8-bb6d6-bb9bd380a11"), std::nullopt);
  EXPECT_EQ(parse_uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a-1"), std::nullopt);
}

TEST(Uuid, RejectsUnbalancedBraces) {
  EXPECT_EQ(parse_uuid("{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), std::nullopt);
  EXPECT_EQ(parse_uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}"), std::nullopt);
  EXPECT_EQ(parse_uuid("{{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}}"), std::nullopt);
}

TEST(Uuid, FormatsLowercaseHyphenated) {
  EXPECT_EQ(format_uuid(kSample), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  EXPECT_EQ(format_uuid(Uuid{}), "00000000-0000-0000-0000-000000000000");
}

TEST(Uuid, FormatThenParseRoundTrips) {
  Uuid u{};
  for (int round = 0; round < 64; ++round) {
    for (std::size_t i = 0; i < u.size(); ++i)
      u[i] = static_cast<std::uint8_t>((round * 37 + i * 101 + 13) & 0xFF);
    EXPECT_EQ(parse_uuid(format_uuid(u)), u);
  }
  EXPECT_EQ(format_uuid(*parse_uuid("{A0EEBC999C0B4EF8BB6D6BB9BD380A11}")),
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
}

// --- validate_keys -------------------------------------------------------------

std::vector<std::string> numbered_keys(int n) {
  std::vector<std::string> keys;
  for (int i = 0; i < n; ++i) keys.push_back("user:U" + std::to_string(i));
  return keys;
}

TEST(RequestKeys, OneValidKeyIsEnough) { EXPECT_NO_THROW(validate_keys({"voucher:V1"})); }

TEST(RequestKeys, EmptyListIsRejected) {
  EXPECT_TRUE(ThrowsBadInput([] { validate_keys({}); }, "keys must not be empty"));
}

TEST(RequestKeys, SixteenKeysAreAllowed) { EXPECT_NO_THROW(validate_keys(numbered_keys(16))); }

TEST(RequestKeys, SeventeenKeysAreRejected) {
  EXPECT_TRUE(
      ThrowsBadInput([] { validate_keys(numbered_keys(17)); }, "too many keys: 17 (at most 16)"));
}

TEST(RequestKeys, DuplicateKeyIsRejectedByName) {
  EXPECT_TRUE(ThrowsBadInput(
      [] {
        validate_keys({"a:1", "b:2", "a:1"});
      },
      "duplicate key \"a:1\""));
}

TEST(RequestKeys, KeysDifferingOnlyInCaseAreDistinct) {
  EXPECT_NO_THROW(validate_keys({"user:abc", "user:ABC"}));
}

TEST(RequestKeys, InvalidKeyMessageNamesItsOneBasedPosition) {
  EXPECT_TRUE(ThrowsBadInput(
      [] {
        validate_keys({"a:1", "b:2", "Bad:3"});
      },
      "invalid key 3 \"Bad:3\": segment 1: kind must start"));
  EXPECT_TRUE(ThrowsBadInput([] { validate_keys({""}); }, "invalid key 1 \"\": empty key"));
}

// --- validate_amount ------------------------------------------------------------

TEST(RequestAmount, PositiveAmountsAreAllowed) {
  EXPECT_NO_THROW(validate_amount(1));
  EXPECT_NO_THROW(validate_amount(std::numeric_limits<std::int64_t>::max()));
}

TEST(RequestAmount, ZeroAndNegativeAreRejectedWithTheValue) {
  EXPECT_TRUE(ThrowsBadInput([] { validate_amount(0); }, "amount must be greater than 0, got 0"));
  EXPECT_TRUE(ThrowsBadInput([] { validate_amount(-5); }, "got -5"));
  EXPECT_TRUE(ThrowsBadInput([] { validate_amount(std::numeric_limits<std::int64_t>::min()); },
                             "got -9223372036854775808"));
}

// --- sorted_keys ------------------------------------------------------------------

TEST(SortedKeys, SortsBytewise) {
  EXPECT_EQ(sorted_keys({"voucher:V1", "user:U1", "a:2", "a:10", "a:B", "a:a"}),
            (std::vector<std::string>{"a:10", "a:2", "a:B", "a:a", "user:U1", "voucher:V1"}));
}

TEST(SortedKeys, Utf8BytesSortAfterAscii) {
  // Bytes compare unsigned, as memcmp and PostgreSQL's "C" collation do.
  EXPECT_EQ(sorted_keys({"u:\xC3\xA9", "u:z"}), (std::vector<std::string>{"u:z", "u:\xC3\xA9"}));
}

TEST(SortedKeys, OrderOfTheInputDoesNotMatter) {
  EXPECT_EQ(sorted_keys({"b:1", "a:1", "c:1"}), sorted_keys({"c:1", "b:1", "a:1"}));
}

}  // namespace
}  // namespace allot
