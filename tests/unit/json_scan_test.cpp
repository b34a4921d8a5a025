#include "json_scan.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace allot::json_scan {
namespace {

std::vector<std::string> elements_of(std::string_view text) {
  std::vector<std::string> out;
  const auto whole = whole_value(text);
  if (!whole) return {"<not JSON>"};
  const auto elements = array_elements(*whole);
  if (!elements) return {"<not an array>"};
  for (std::string_view e : *elements) out.emplace_back(e);
  return out;
}

TEST(JsonScan, ValidJsonIsOneValue) {
  for (const char* text : {"[]", "{}", "0", "-0", "1.5e-3", "-12E+7", "\"\"",
                           "\"a\\\"b\\\\c\\/\\b\\f\\n\\r\\t\\u00e9\"", "true", "false", "null",
                           " [ 1 , [ ] , { } , { \"a\" : [ null ] } ] ", "{\"a\":{\"b\":{}}}",
                           "\xEF\xBB\xBF[1]", "[1e400]", "[\"\xFF\"]", "{\"\xFE\": 1}"})
    EXPECT_TRUE(whole_value(text).has_value()) << "text: " << text;
}

TEST(JsonScan, BrokenSyntaxIsNotJson) {
  for (const char* text :
       {"",        " ",        "[",          "]",     "[1,]",     "[,1]",       "[1 2]",
        "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{1:2}", "01",       "1.",         ".5",
        "1e",      "+1",       "-",          "\"abc", "\"a\tb\"", "\"\\x\"",    "\"\\u12\"",
        "tru",     "nul",      "True",       "[] []", "[]x",      "{\"a\":1}}", "[1]]",
        "NaN",     "Infinity", "'a'",        "[\xFF]"})
    EXPECT_FALSE(whole_value(text).has_value()) << "text: " << text;
}

TEST(JsonScan, WholeValueDropsSurroundingWhitespace) {
  EXPECT_EQ(whole_value(" \t\r\n[1] \n").value(), "[1]");
  EXPECT_EQ(whole_value("\xEF\xBB\xBF {\"a\": 1}").value(), "{\"a\": 1}");
}

TEST(JsonScan, ArrayElementsAreTheTopLevelValues) {
  EXPECT_EQ(elements_of("[]"), std::vector<std::string>{});
  EXPECT_EQ(elements_of("[ 1e400 , \"a,b\" ,{\"x\": [1, 2]}, [[]],null]"),
            (std::vector<std::string>{"1e400", "\"a,b\"", "{\"x\": [1, 2]}", "[[]]", "null"}));
  EXPECT_EQ(elements_of("{\"a\": 1}"), std::vector<std::string>{"<not an array>"});
  EXPECT_EQ(elements_of("[1,"), std::vector<std::string>{"<not JSON>"});
}

TEST(JsonScan, ObjectMembersKeepNameTokensAndValues) {
  const auto members = object_members("{ \"txn\" : \"x\", \"a\\\"b\":[1e400] ,\"n\":{}}");
  ASSERT_TRUE(members.has_value());
  ASSERT_EQ(members->size(), 3u);
  EXPECT_EQ((*members)[0].name, "\"txn\"");
  EXPECT_EQ((*members)[0].value, "\"x\"");
  EXPECT_EQ((*members)[1].name, "\"a\\\"b\"");
  EXPECT_EQ((*members)[1].value, "[1e400]");
  EXPECT_EQ((*members)[2].value, "{}");
  EXPECT_FALSE(object_members("[1]").has_value());
  EXPECT_TRUE(object_members("{}").value().empty());
}

TEST(JsonScan, StringBytesDecodesEscapesAndKeepsOtherBytes) {
  EXPECT_EQ(string_bytes("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\""), "a\"b\\c/d\b\f\n\r\t");
  EXPECT_EQ(string_bytes("\"\\u0041\\u00e9\\u20AC\""), "A\xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(string_bytes("\"\\ud83d\\ude00\""), "\xF0\x9F\x98\x80");
  EXPECT_EQ(string_bytes("\"\\udc00x\""), "\xED\xB0\x80x");  // a lone low surrogate
  EXPECT_EQ(string_bytes("\"\\ud800\\u0041\""),
            "\xED\xA0\x80"
            "A");  // a high one without its pair
  EXPECT_EQ(string_bytes("\"\xFF\xC3\""), "\xFF\xC3");
}

TEST(JsonScan, DeepNestingCostsNoStack) {
  const std::string deep = std::string(1000000, '[') + std::string(1000000, ']');
  EXPECT_TRUE(whole_value(deep).has_value());
  EXPECT_FALSE(whole_value(deep.substr(1)).has_value());
}

}  // namespace
}  // namespace allot::json_scan
