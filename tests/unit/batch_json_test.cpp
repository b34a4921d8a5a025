#include "batch_json.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_support.hpp"

namespace allot {
namespace {

using test::ThrowsBadInput;

const char kTxn[] = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
const std::string kGoodItem =
    std::string(R"({"txn": ")") + kTxn + R"(", "keys": ["voucher:V1"], "amount": 2})";

// A JSON array of `n` copies of `item`.
std::string repeated(const std::string& item, std::size_t n) {
  std::string out = "[";
  for (std::size_t i = 0; i < n; ++i) {
    if (i) out += ",";
    out += item;
  }
  return out + "]";
}

// The error text of a batch holding just `item` (any JSON value), "" when
// the item parsed.
std::string item_error(const std::string& item) {
  const std::vector<BatchItem> items = parse_batch("[" + item + "]");
  EXPECT_EQ(items.size(), 1u);
  if (items.empty()) return "<no item>";
  EXPECT_NE(items[0].request.has_value(), !items[0].error.empty())
      << "an item has either a request or an error";
  return items[0].error;
}

// An item with the given fields after a valid txn.
std::string with_txn(const std::string& rest) {
  return std::string(R"({"txn": ")") + kTxn + "\"" + (rest.empty() ? "" : ", " + rest) + "}";
}

// --- whole-batch parsing -------------------------------------------------------

TEST(BatchJson, ValidArrayParsesEveryItem) {
  const std::vector<BatchItem> items = parse_batch(
      R"([{"txn": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "keys": ["voucher:V1", "user:U1"], "amount": 3},
          {"txn": "{00000000000000000000000000000001}", "keys": ["user:U2"]}])");
  ASSERT_EQ(items.size(), 2u);
  ASSERT_TRUE(items[0].request.has_value());
  EXPECT_EQ(items[0].error, "");
  EXPECT_EQ(format_uuid(items[0].request->txn), kTxn);
  EXPECT_EQ(items[0].request->keys, (std::vector<std::string>{"voucher:V1", "user:U1"}));
  EXPECT_EQ(items[0].request->amount, 3);
  ASSERT_TRUE(items[1].request.has_value());
  EXPECT_EQ(format_uuid(items[1].request->txn), "00000000-0000-0000-0000-000000000001");
}

TEST(BatchJson, EmptyArrayGivesNoItems) { EXPECT_TRUE(parse_batch("[]").empty()); }

TEST(BatchJson, AmountDefaultsToOne) {
  const auto missing = parse_batch("[" + with_txn(R"("keys": ["a:1"])") + "]");
  ASSERT_TRUE(missing.at(0).request.has_value());
  EXPECT_EQ(missing[0].request->amount, 1);
  const auto null = parse_batch("[" + with_txn(R"("keys": ["a:1"], "amount": null)") + "]");
  ASSERT_TRUE(null.at(0).request.has_value());
  EXPECT_EQ(null[0].request->amount, 1);
}

TEST(BatchJson, LargestAmountIsAccepted) {
  const auto items =
      parse_batch("[" + with_txn(R"("keys": ["a:1"], "amount": 9223372036854775807)") + "]");
  ASSERT_TRUE(items.at(0).request.has_value());
  EXPECT_EQ(items[0].request->amount, 9223372036854775807);
}

TEST(BatchJson, NonJsonIsInvalidText) {
  for (const char* text : {"", "not json", "[", "[1,]", "[{\"txn\": }]", "[] []"})
    EXPECT_TRUE(ThrowsBadInput([&] { parse_batch(text); }, ErrorCode::kInvalidText,
                               "requests is not valid JSON"))
        << "text: " << text;
}

TEST(BatchJson, BytesThatAreNotUtf8OutsideStringsAreInvalidText) {
  for (const char* text : {"[\xFF]", "\xFF[]", "[1\xFF]", "[{\"txn\"\xFF: 1}]"})
    EXPECT_TRUE(ThrowsBadInput([&] { parse_batch(text); }, ErrorCode::kInvalidText,
                               "requests is not valid JSON"))
        << "text: " << text;
}

TEST(BatchJson, SoundSyntaxThatIsNotAnArrayIsRejectedAsAWhole) {
  // Refused by the JSON library (a number beyond double, bytes that are not
  // UTF-8), but not an array: the whole call is wrong, as for any non-array.
  for (const char* text : {"1e400", "\"\xFF\"", "{\"txn\": 1e999}"})
    EXPECT_TRUE(ThrowsBadInput([&] { parse_batch(text); }, ErrorCode::kInvalidParameter,
                               "requests must be a JSON array of request objects"))
        << "text: " << text;
}

TEST(BatchJson, NonArrayIsRejected) {
  for (const std::string& text :
       {kGoodItem, std::string("42"), std::string("\"x\""), std::string("null"), std::string("{}")})
    EXPECT_TRUE(ThrowsBadInput([&] { parse_batch(text); },
                               "requests must be a JSON array of request objects"))
        << "text: " << text;
}

TEST(BatchJson, TenThousandItemsAreAllowed) {
  const std::vector<BatchItem> items = parse_batch(repeated(kGoodItem, 10000));
  ASSERT_EQ(items.size(), 10000u);
  EXPECT_TRUE(items.back().request.has_value());
}

TEST(BatchJson, TenThousandAndOneItemsAreRejected) {
  const std::string text = repeated(kGoodItem, 10001);
  EXPECT_TRUE(
      ThrowsBadInput([&] { parse_batch(text); }, "too many requests: 10001 (at most 10000)"));
}

// --- bad items --------------------------------------------------------------------

TEST(BatchJson, BadItemGetsAnErrorAndTheOthersStillParse) {
  const std::vector<BatchItem> items =
      parse_batch("[" + kGoodItem + ", 17, " + kGoodItem + ", {\"keys\": [\"a:1\"]}]");
  ASSERT_EQ(items.size(), 4u);
  EXPECT_TRUE(items[0].request.has_value());
  EXPECT_FALSE(items[1].request.has_value());
  EXPECT_EQ(items[1].error, "item must be a JSON object");
  EXPECT_TRUE(items[2].request.has_value());
  EXPECT_EQ(items[2].error, "");
  EXPECT_FALSE(items[3].request.has_value());
  EXPECT_EQ(items[3].error, "txn is missing");
}

TEST(BatchJson, ItemThatIsNotAnObjectIsBad) {
  for (const char* item : {"1", "\"x\"", "[]", "null", "true"})
    EXPECT_EQ(item_error(item), "item must be a JSON object") << "item: " << item;
}

TEST(BatchJson, MissingOrNullTxnIsBad) {
  EXPECT_EQ(item_error(R"({"keys": ["a:1"]})"), "txn is missing");
  EXPECT_EQ(item_error(R"({"txn": null, "keys": ["a:1"]})"), "txn is missing");
}

TEST(BatchJson, NonStringTxnIsBad) {
  EXPECT_EQ(item_error(R"({"txn": 12, "keys": ["a:1"]})"), "txn must be a UUID string");
}

TEST(BatchJson, MalformedUuidIsBadAndQuoted) {
  EXPECT_EQ(item_error(R"({"txn": "nope", "keys": ["a:1"]})"), "txn is not a valid UUID: \"nope\"");
  EXPECT_EQ(item_error(R"({"txn": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1", "keys": ["a:1"]})"),
            "txn is not a valid UUID: \"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1\"");
}

TEST(BatchJson, MissingOrNullKeysIsBad) {
  EXPECT_EQ(item_error(with_txn("")), "keys is missing");
  EXPECT_EQ(item_error(with_txn(R"("keys": null)")), "keys is missing");
}

TEST(BatchJson, KeysThatAreNotAnArrayOfStringsAreBad) {
  EXPECT_EQ(item_error(with_txn(R"("keys": "a:1")")), "keys must be an array of strings");
  EXPECT_EQ(item_error(with_txn(R"("keys": {"a": 1})")), "keys must be an array of strings");
  EXPECT_EQ(item_error(with_txn(R"("keys": ["a:1", 2])")), "keys must be an array of strings");
  EXPECT_EQ(item_error(with_txn(R"("keys": [null])")), "keys must be an array of strings");
}

TEST(BatchJson, KeysBreakingTheRequestRulesAreBad) {
  EXPECT_EQ(item_error(with_txn(R"("keys": [])")), "keys must not be empty");
  EXPECT_EQ(item_error(with_txn(R"("keys": ["a:1", "a:1"])")), "duplicate key \"a:1\"");
  EXPECT_EQ(item_error(with_txn(R"("keys": ["a:1", "Voucher:V1"])")),
            "invalid key 2 \"Voucher:V1\": segment 1: kind must start with a lowercase letter a-z");
  std::string many = R"("keys": [)";
  for (int i = 0; i < 17; ++i) many += (i ? ",\"u:" : "\"u:") + std::to_string(i) + "\"";
  EXPECT_EQ(item_error(with_txn(many + "]")), "too many keys: 17 (at most 16)");
}

TEST(BatchJson, NonPositiveAmountIsBad) {
  EXPECT_EQ(item_error(with_txn(R"("keys": ["a:1"], "amount": 0)")),
            "amount must be greater than 0, got 0");
  EXPECT_EQ(item_error(with_txn(R"("keys": ["a:1"], "amount": -3)")),
            "amount must be greater than 0, got -3");
}

TEST(BatchJson, NonIntegerAmountIsBad) {
  for (const char* amount : {"1.5", "1.0", "1e3", "\"1\"", "true", "[1]", "{}"})
    EXPECT_EQ(item_error(with_txn(std::string(R"("keys": ["a:1"], "amount": )") + amount)),
              "amount must be an integer")
        << "amount: " << amount;
}

TEST(BatchJson, AmountBeyondBigintIsBad) {
  EXPECT_EQ(item_error(with_txn(R"("keys": ["a:1"], "amount": 9223372036854775808)")),
            "amount is too large");
  EXPECT_EQ(item_error(with_txn(R"("keys": ["a:1"], "amount": 18446744073709551615)")),
            "amount is too large");
  // Past uint64 the JSON parser reads a float: still rejected, never wrapped.
  EXPECT_EQ(item_error(with_txn(R"("keys": ["a:1"], "amount": 18446744073709551616)")),
            "amount must be an integer");
  EXPECT_EQ(item_error(with_txn(R"("keys": ["a:1"], "amount": -9223372036854775809)")),
            "amount must be an integer");
}

// --- items the JSON library refuses although PostgreSQL accepted them ------------

TEST(BatchJson, AmountBeyondDoubleRangeIsABadItemAndTheNextIsStillParsed) {
  for (const char* amount : {"1e309", "1e400", "-1e400", "1E99999", "123e456789"}) {
    const std::vector<BatchItem> items =
        parse_batch("[" + with_txn(std::string(R"("keys": ["a:1"], "amount": )") + amount) + ", " +
                    kGoodItem + "]");
    ASSERT_EQ(items.size(), 2u) << "amount: " << amount;
    EXPECT_FALSE(items[0].request.has_value());
    EXPECT_EQ(items[0].error, "amount is out of range") << "amount: " << amount;
    ASSERT_TRUE(items[1].request.has_value());
    EXPECT_EQ(items[1].request->amount, 2);
  }
}

TEST(BatchJson, AmountAtTheEdgeOfDoubleRangeIsJustNotAnInteger) {
  EXPECT_EQ(item_error(with_txn(R"("keys": ["a:1"], "amount": 1e308)")),
            "amount must be an integer");
}

TEST(BatchJson, NumberBeyondDoubleRangeAnywhereInAnItemMakesOnlyThatItemBad) {
  const std::vector<BatchItem> items =
      parse_batch("[[1e400], " + kGoodItem + ", 1e400, {\"txn\": 1e400, \"keys\": [\"a:1\"]}, " +
                  with_txn(R"("keys": ["a:1", 1e400])") + ", " +
                  with_txn(R"("keys": ["a:1"], "amount": [[1e400]])") + ", " +
                  with_txn(R"("keys": ["a:1"], "colour": 1e400)") + "]");
  ASSERT_EQ(items.size(), 7u);
  EXPECT_EQ(items[0].error, "item must be a JSON object");
  EXPECT_TRUE(items[1].request.has_value());
  EXPECT_EQ(items[2].error, "item must be a JSON object");
  EXPECT_EQ(items[3].error, "txn must be a UUID string");
  EXPECT_EQ(items[4].error, "keys must be an array of strings");
  EXPECT_EQ(items[5].error, "amount must be an integer");
  EXPECT_EQ(items[6].error, "unknown field \"colour\"");
}

TEST(BatchJson, TextThatIsNotUtf8IsABadItemNamedWithItsBytesEscaped) {
  // In a SQL_ASCII database PostgreSQL hands over any bytes.
  const std::vector<BatchItem> items = parse_batch(
      "[" + with_txn("\"keys\": [\"a:1\", \"a:\xFF\"]") + ", " + kGoodItem + ", " +
      "{\"txn\": \"\xFF\", \"keys\": [\"a:1\"]}, " + with_txn("\"keys\": [\"a:1\"], \"x\xFE\": 1") +
      ", " + with_txn("\"keys\": [\"\xC3:1\"]") + "]");
  ASSERT_EQ(items.size(), 5u);
  EXPECT_EQ(items[0].error, "invalid key 2 \"a:\\xFF\": segment 1: id is not printable UTF-8");
  EXPECT_TRUE(items[1].request.has_value());
  EXPECT_EQ(items[2].error, "txn is not a valid UUID: \"\\xFF\"");
  EXPECT_EQ(items[3].error, "unknown field \"x\\xFE\"");
  EXPECT_EQ(items[4].error,
            "invalid key 1 \"\\xC3:1\": segment 1: kind must start with a lowercase letter a-z");
}

TEST(BatchJson, EscapedLoneSurrogateInAKeyIsABadKey) {
  EXPECT_EQ(item_error(with_txn(R"("keys": ["a:\ud800"])")),
            "invalid key 1 \"a:\\xED\\xA0\\x80\": segment 1: id is not printable UTF-8");
  // A pair is one character, and a fine id.
  const auto items = parse_batch("[" + with_txn(R"("keys": ["a:\ud83d\ude00", "b:\u00e9"])") +
                                 ", " + with_txn(R"("keys": ["a:1"], "amount": 1e400)") + "]");
  ASSERT_TRUE(items.at(0).request.has_value());
  EXPECT_EQ(items[0].request->keys, (std::vector<std::string>{"a:\xF0\x9F\x98\x80", "b:\xC3\xA9"}));
}

TEST(BatchJson, LenientItemsParseLikeTheLibraryWouldHaveParsedThem) {
  // One refused item makes the library refuse the whole text; the others
  // must come out exactly as they do from a text it accepts.
  const std::string items_text = kGoodItem + ", " + with_txn(R"("keys": ["a:1"], "amount": null)") +
                                 ", 17, {\"keys\": [\"a:1\"]}, " +
                                 with_txn(R"("keys": ["a:1"], "amount": 0)") + ", " +
                                 "{\"txn\": \"{00000000000000000000000000000001}\", " +
                                 "\"keys\": [\"a\\u003a\\/x\\\\y\\\"\"], \"amount\": 7}";
  const std::vector<BatchItem> strict = parse_batch("[" + items_text + "]");
  const std::vector<BatchItem> lenient = parse_batch(" \n[" + items_text + ", 1e400 ]\t");
  ASSERT_EQ(strict.size() + 1, lenient.size());
  for (std::size_t i = 0; i < strict.size(); ++i) {
    EXPECT_EQ(strict[i].error, lenient[i].error) << "item " << i;
    ASSERT_EQ(strict[i].request.has_value(), lenient[i].request.has_value()) << "item " << i;
    if (!strict[i].request) continue;
    EXPECT_EQ(strict[i].request->txn, lenient[i].request->txn);
    EXPECT_EQ(strict[i].request->keys, lenient[i].request->keys);
    EXPECT_EQ(strict[i].request->amount, lenient[i].request->amount);
  }
  EXPECT_EQ(lenient.back().error, "item must be a JSON object");
}

TEST(BatchJson, BrokenSyntaxNextToARefusedNumberIsStillInvalidText) {
  for (const char* text : {"[1e400", "[1e400,]", "[{\"amount\": 1e400}", "[1e400] x", "[1e400 2]",
                           "[{\"a\": 1e400,}]", "[\"\xFF]", "[\"\xFF\\x\"]"})
    EXPECT_TRUE(ThrowsBadInput([&] { parse_batch(text); }, ErrorCode::kInvalidText,
                               "requests is not valid JSON"))
        << "text: " << text;
}

TEST(BatchJson, TooManyItemsIsRejectedAlsoWhenOneIsRefused) {
  const std::string text = "[1e400, " + repeated(kGoodItem, 10000).substr(1);
  EXPECT_TRUE(
      ThrowsBadInput([&] { parse_batch(text); }, "too many requests: 10001 (at most 10000)"));
}

TEST(BatchJson, DeeplyNestedRefusedItemCostsNoStack) {
  const std::string deep = std::string(20000, '[') + "1e400" + std::string(20000, ']');
  const std::vector<BatchItem> items = parse_batch("[" + deep + ", " + kGoodItem + "]");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].error, "item must be a JSON object");
  EXPECT_TRUE(items[1].request.has_value());
}

TEST(BatchJson, UnknownFieldIsBadAndNamed) {
  EXPECT_EQ(item_error(with_txn(R"("keys": ["a:1"], "amt": 2)")), "unknown field \"amt\"");
}

}  // namespace
}  // namespace allot
