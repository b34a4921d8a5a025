#include "utf8.hpp"

#include <gtest/gtest.h>

#include <string>

#include "test_support.hpp"

namespace allot {
namespace {

using test::ThrowsBadInput;

TEST(Utf8, WellFormedTextHasNoBadByte) {
  for (const char* text : {"", "ascii", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
                           "\xEF\xBF\xBF", "\xF4\x8F\xBF\xBF", "\xC2\x85 (C1 is still UTF-8)"})
    EXPECT_FALSE(invalid_utf8_at(text).has_value()) << "text: " << text;
}

TEST(Utf8, MalformedSequencesAreFoundWhereTheyStart) {
  EXPECT_EQ(invalid_utf8_at("ab\xFF"), 2u);
  EXPECT_EQ(invalid_utf8_at("a\x80"), 1u);  // stray continuation byte
  EXPECT_EQ(invalid_utf8_at("\xC3"), 0u);   // truncated
  EXPECT_EQ(invalid_utf8_at("\xC3"
                            "a"),
            0u);                                       // continuation missing
  EXPECT_EQ(invalid_utf8_at("\xC0\xAF"), 0u);          // overlong '/'
  EXPECT_EQ(invalid_utf8_at("\xE0\x80\xAF"), 0u);      // overlong, 3 bytes
  EXPECT_EQ(invalid_utf8_at("x\xED\xA0\x80"), 1u);     // surrogate U+D800
  EXPECT_EQ(invalid_utf8_at("\xF4\x90\x80\x80"), 0u);  // above U+10FFFF
  EXPECT_EQ(invalid_utf8_at("\xF8\x88\x80\x80\x80"), 0u);
}

TEST(Utf8, EscapingShowsBadBytesAndKeepsGoodText) {
  EXPECT_EQ(escape_invalid_utf8("a\xFF"
                                "b\xC3\xA9\xC3"),
            "a\\xFFb\xC3\xA9\\xC3");
  EXPECT_EQ(escape_invalid_utf8("tab\there"), "tab\there");
  EXPECT_EQ(escape_invalid_utf8("\xED\xA0\x80"), "\\xED\\xA0\\x80");
}

TEST(Utf8, RequireUtf8NamesTheArgumentAndTheByte) {
  EXPECT_NO_THROW(require_utf8("fine \xC3\xA9", "reason"));
  EXPECT_TRUE(ThrowsBadInput([] { require_utf8("bad \xFF reason", "reason"); },
                             ErrorCode::kInvalidEncoding,
                             "reason is not valid UTF-8 (byte 0xFF at offset 4)"));
}

}  // namespace
}  // namespace allot
