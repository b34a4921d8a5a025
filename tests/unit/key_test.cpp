#include "key.hpp"

#include <gtest/gtest.h>

#include <string>

#include "test_support.hpp"

namespace allot {
namespace {

using test::ThrowsBadInput;

// The problem text for a key that must be rejected ("" when it is accepted,
// so a wrongly accepted key shows up clearly in the failure message).
std::string problem(const std::string& key) { return key_problem(key).value_or(""); }

bool valid(const std::string& key) { return !key_problem(key).has_value(); }

// --- valid keys -----------------------------------------------------------

TEST(Keys, OneToFourSegmentsAreValid) {
  EXPECT_TRUE(valid("voucher:V123"));
  EXPECT_TRUE(valid("voucher:V123/user:U77"));
  EXPECT_TRUE(valid("a:1/b:2/c:3"));
  EXPECT_TRUE(valid("a:1/b:2/c:3/d:4"));
}

TEST(Keys, KindMayHaveDigitsAndUnderscoresAfterTheFirstLetter) {
  EXPECT_TRUE(valid("gift_card2:X"));
  EXPECT_TRUE(valid("a_:X"));
}

TEST(Keys, IdsMayBeUtf8) {
  EXPECT_TRUE(valid("user:J\xC3\xBCrgen"));             // ü, 2 bytes
  EXPECT_TRUE(valid("shop:\xE6\x97\xA5\xE6\x9C\xAC"));  // 日本, 3 bytes each
  EXPECT_TRUE(valid("user:\xF0\x9F\x98\x80"));          // emoji, 4 bytes
  EXPECT_TRUE(valid("user:\xF4\x8F\xBF\xBF"));          // U+10FFFF, the last code point
  EXPECT_TRUE(
      valid("user:a\xC2\xA0"
            "b"));  // U+00A0, first after the C1 block
}

TEST(Keys, IdsMayHoldSpacesAndPunctuation) {
  EXPECT_TRUE(valid("user:John Smith"));
  EXPECT_TRUE(valid("card:3f2a-9b.c_d+e@x!#$%&*()[]{}<>?=~,;'\"\\|`^"));
  EXPECT_TRUE(valid("user: leading and trailing "));
}

TEST(Keys, IdMayContainAStarAmongOtherCharacters) {
  EXPECT_TRUE(valid("voucher:V*1"));
  EXPECT_TRUE(valid("voucher:**"));
}

TEST(Keys, KindOfExactly32BytesIsValid) { EXPECT_TRUE(valid(std::string(32, 'k') + ":x")); }

TEST(Keys, IdOfExactly128BytesIsValid) { EXPECT_TRUE(valid("user:" + std::string(128, 'i'))); }

TEST(Keys, KeyOfExactly256BytesIsValid) {
  const std::string key = "a:" + std::string(128, 'x') + "/b:" + std::string(123, 'y');
  ASSERT_EQ(key.size(), 256u);
  EXPECT_TRUE(valid(key));
}

// --- every rule violated --------------------------------------------------

TEST(Keys, EmptyKeyIsRejected) { EXPECT_EQ(problem(""), "empty key"); }

TEST(Keys, EmptyKindIsRejected) { EXPECT_EQ(problem(":V1"), "segment 1: empty kind"); }

TEST(Keys, UppercaseKindIsRejected) {
  EXPECT_EQ(problem("Voucher:V1"), "segment 1: kind must start with a lowercase letter a-z");
  EXPECT_EQ(problem("vOucher:V1"), "segment 1: kind may contain only a-z, 0-9 and _");
}

TEST(Keys, KindStartingWithDigitOrUnderscoreIsRejected) {
  EXPECT_EQ(problem("1voucher:V1"), "segment 1: kind must start with a lowercase letter a-z");
  EXPECT_EQ(problem("_voucher:V1"), "segment 1: kind must start with a lowercase letter a-z");
}

TEST(Keys, KindWithOtherCharactersIsRejected) {
  EXPECT_EQ(problem("gift-card:X"), "segment 1: kind may contain only a-z, 0-9 and _");
  EXPECT_EQ(problem("gift card:X"), "segment 1: kind may contain only a-z, 0-9 and _");
}

TEST(Keys, KindOf33BytesIsRejected) {
  EXPECT_EQ(problem(std::string(33, 'k') + ":x"), "segment 1: kind longer than 32 bytes");
}

TEST(Keys, EmptyIdIsRejected) {
  EXPECT_EQ(problem("voucher:"), "segment 1: empty id");
  EXPECT_EQ(problem("voucher:V1/user:"), "segment 2: empty id");
}

TEST(Keys, IdOf129BytesIsRejected) {
  EXPECT_EQ(problem("user:" + std::string(129, 'i')), "segment 1: id longer than 128 bytes");
}

TEST(Keys, ColonInIdIsRejected) { EXPECT_EQ(problem("voucher:V:1"), "segment 1: id contains ':'"); }

TEST(Keys, SegmentWithoutColonIsRejected) {
  EXPECT_EQ(problem("voucher"), "segment 1 \"voucher\" is not kind:id");
  EXPECT_EQ(problem("voucher:V1/"), "segment 2 \"\" is not kind:id");
  EXPECT_EQ(problem("/voucher:V1"), "segment 1 \"\" is not kind:id");
  EXPECT_EQ(problem("voucher:V1//user:U1"), "segment 2 \"\" is not kind:id");
}

TEST(Keys, ControlCharactersInIdAreRejected) {
  EXPECT_EQ(problem("user:a\tb"), "segment 1: id contains a control character");
  EXPECT_EQ(problem("user:a\nb"), "segment 1: id contains a control character");
  EXPECT_EQ(problem("user:a\x7F"), "segment 1: id contains a control character");
  EXPECT_EQ(problem(std::string("user:a\0b", 8)), "segment 1: id contains a control character");
  // C1 controls (U+0080..U+009F) are well-formed UTF-8 but not printable.
  EXPECT_EQ(problem("user:a\xC2\x85"), "segment 1: id is not printable UTF-8");
}

TEST(Keys, InvalidUtf8InIdIsRejected) {
  const char* const kBad[] = {
      "user:\xFF",                  // never a UTF-8 byte
      "user:\x80",                  // continuation byte without a lead
      "user:a\xC3",                 // truncated at the end
      "user:\xC3(",                 // lead byte followed by a non-continuation
      "user:\xE6\x97",              // 3-byte sequence cut short
      "user:\xED\xA0\x80",          // UTF-16 surrogate U+D800
      "user:\xF4\x90\x80\x80",      // U+110000, beyond Unicode
      "user:\xF8\x88\x80\x80\x80",  // 5-byte form
  };
  for (const char* key : kBad)
    EXPECT_EQ(problem(key), "segment 1: id is not printable UTF-8") << "key: " << key;
}

TEST(Keys, OverlongUtf8IsRejected) {
  // Overlong encodings could smuggle '/' or ':' past a byte-level check.
  EXPECT_EQ(problem("user:\xC0\xAF"), "segment 1: id is not printable UTF-8");      // '/'
  EXPECT_EQ(problem("user:\xC1\xBA"), "segment 1: id is not printable UTF-8");      // ':'
  EXPECT_EQ(problem("user:\xE0\x80\xAF"), "segment 1: id is not printable UTF-8");  // '/'
  EXPECT_EQ(problem("user:\xF0\x80\x80\xAF"), "segment 1: id is not printable UTF-8");
}

TEST(Keys, MoreThanFourSegmentsAreRejected) {
  EXPECT_EQ(problem("a:1/b:2/c:3/d:4/e:5"), "more than 4 segments");
}

TEST(Keys, KeyOver256BytesIsRejected) {
  const std::string key = "a:" + std::string(128, 'x') + "/b:" + std::string(124, 'y');
  ASSERT_EQ(key.size(), 257u);
  EXPECT_EQ(problem(key), "longer than 256 bytes");
}

TEST(Keys, StarIdIsReservedForClasses) {
  EXPECT_EQ(problem("voucher:*"), "id \"*\" is reserved for classes");
  EXPECT_EQ(problem("voucher:V1/user:*"), "id \"*\" is reserved for classes");
}

TEST(Keys, ProblemNamesTheOffendingSegment) {
  EXPECT_EQ(problem("voucher:V1/User:U1"),
            "segment 2: kind must start with a lowercase letter a-z");
  EXPECT_EQ(problem("a:1/b:2/c:3/d:\x01"), "segment 4: id contains a control character");
}

// --- validate_key -----------------------------------------------------------

TEST(Keys, ValidateKeyAcceptsAValidKey) { EXPECT_NO_THROW(validate_key("voucher:V1/user:U1")); }

TEST(Keys, ValidateKeyMessageNamesArgumentKeyAndProblem) {
  EXPECT_TRUE(ThrowsBadInput([] { validate_key("voucher:", "key 2"); },
                             "invalid key 2 \"voucher:\": segment 1: empty id"));
  EXPECT_TRUE(ThrowsBadInput([] { validate_key(""); }, "invalid key \"\": empty key"));
}

// --- key_class ---------------------------------------------------------------

TEST(Keys, ClassReplacesEveryIdWithStar) {
  EXPECT_EQ(key_class("voucher:V123"), "voucher:*");
  EXPECT_EQ(key_class("voucher:V123/user:U77"), "voucher:*/user:*");
  EXPECT_EQ(key_class("a:1/b:22/c:333/d:4444"), "a:*/b:*/c:*/d:*");
}

TEST(Keys, ClassOfUtf8AndPunctuatedIdsIsStillStars) {
  EXPECT_EQ(key_class("user:J\xC3\xBCrgen Smith/shop:a*b"), "user:*/shop:*");
}

TEST(Keys, ClassIsItselfAValidScope) {
  EXPECT_EQ(parse_scope(key_class("voucher:V1/user:U1")), ScopeKind::kClass);
}

// --- parse_scope -----------------------------------------------------------

TEST(Scopes, KeyIsAKeyScope) {
  EXPECT_EQ(parse_scope("voucher:V1"), ScopeKind::kKey);
  EXPECT_EQ(parse_scope("voucher:V1/user:U1"), ScopeKind::kKey);
}

TEST(Scopes, AllStarsIsAClassScope) {
  EXPECT_EQ(parse_scope("voucher:*"), ScopeKind::kClass);
  EXPECT_EQ(parse_scope("voucher:*/user:*"), ScopeKind::kClass);
}

TEST(Scopes, MixOfIdsAndStarsIsRejected) {
  EXPECT_TRUE(ThrowsBadInput([] { parse_scope("voucher:V1/user:*"); },
                             "mix of ids and '*' is not supported"));
  EXPECT_TRUE(ThrowsBadInput([] { parse_scope("voucher:*/user:U1"); }, "voucher:*/user:U1"));
}

TEST(Scopes, MalformedScopeIsRejectedNamingTheProblem) {
  EXPECT_TRUE(ThrowsBadInput([] { parse_scope("Voucher:*"); },
                             "invalid scope \"Voucher:*\": segment 1: kind must start"));
  EXPECT_TRUE(ThrowsBadInput([] { parse_scope(""); }, "empty key"));
  EXPECT_TRUE(ThrowsBadInput([] { parse_scope("a:*/b:*/c:*/d:*/e:*"); }, "more than 4 segments"));
}

}  // namespace
}  // namespace allot

namespace allot {
namespace {

// Error messages quote at most 64 bytes of a key and never split a UTF-8
// character, whatever the caller sent.
TEST(Keys, MessagesQuoteLongKeysShortlyOnACharacterBoundary) {
  EXPECT_EQ(quote_for_message("voucher:V1"), "\"voucher:V1\"");
  const std::string long_key = "voucher:" + std::string(63, 'x') + "\xC3\xA9" + "tail";
  const std::string quoted = quote_for_message(long_key);
  EXPECT_EQ(quoted, "\"voucher:" + std::string(56, 'x') + "...\"");
  // Bytes 63-64 are one é: cutting at 64 would split it, so it is dropped.
  const std::string accents = "voucher:" + std::string(55, 'x') + "\xC3\xA9\xC3\xA9";
  EXPECT_EQ(quote_for_message(accents), "\"voucher:" + std::string(55, 'x') + "...\"");
  try {
    validate_key("voucher:" + std::string(300, 'x'));
    FAIL() << "over-long key accepted";
  } catch (const BadInput& e) {
    EXPECT_NE(std::string(e.what()).find("longer than 256 bytes"), std::string::npos);
    EXPECT_LT(std::string(e.what()).size(), 160u);
  }
}

}  // namespace
}  // namespace allot

namespace allot {
namespace {

// In a SQL_ASCII database a key can hold any bytes; the message shows the
// ones that are not UTF-8 as \xNN and stays UTF-8 itself.
TEST(Keys, MessagesEscapeBytesThatAreNotUtf8) {
  EXPECT_EQ(quote_for_message("voucher:\xFF\xC3\xA9"), "\"voucher:\\xFF\xC3\xA9\"");
  // Escapes count in the 64 bytes: a message stays short.
  std::string sixteen;
  for (int i = 0; i < 16; ++i) sixteen += "\\xFE";
  EXPECT_EQ(quote_for_message(std::string(70, '\xFE')), "\"" + sixteen + "...\"");
  EXPECT_EQ(quote_for_message(std::string(16, '\xFE')), "\"" + sixteen + "\"");
  EXPECT_EQ(quote_for_message(std::string(62, 'x') + "\xFF"),
            "\"" + std::string(62, 'x') + "...\"");
  EXPECT_TRUE(test::ThrowsBadInput(
      [] { validate_key("voucher:V\xFF", "key 2"); },
      "invalid key 2 \"voucher:V\\xFF\": segment 1: id is not printable UTF-8"));
}

}  // namespace
}  // namespace allot
