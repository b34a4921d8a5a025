// Fuzzes the JSON of allot.redeem_many (extension/core/batch_json.hpp):
// parse_batch on arbitrary bytes.
//
// Properties checked:
//  - only BadInput escapes: 22P02 only when the text is not JSON, 22023
//    when it is JSON but not an array of at most 10,000 items;
//  - text the JSON library refuses although its syntax may be sound (a
//    number beyond double range, a string that is not UTF-8: PostgreSQL
//    accepts both) is refused as a whole (22P02 or 22023) or parsed into
//    items that each have a request or a short, UTF-8 error;
//  - otherwise there is one item per array element, each with either a
//    request or a non-empty, short error (never both, never neither); an
//    error quoting the amount quotes the amount that was sent;
//  - an item has a request exactly when a reference check written from the
//    contract says it is well-formed (an object with only txn, keys and
//    amount; txn a UUID string; keys 1..16 valid distinct key strings;
//    amount absent, null or an integer in 1..2^63-1), and the request holds
//    that txn, those keys in order and that amount (default 1);
//  - parse(canonical(x)) == parse(x): re-serialising the parsed JSON, or
//    writing the parsed requests back as canonical items, parses to the
//    same items; an item parsed alone gives what it gave in the batch.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "batch_json.hpp"
#include "error.hpp"
#include "fuzz_support.hpp"
#include "key.hpp"
#include "request.hpp"

using namespace allot;
using namespace allot::fuzz;
using nlohmann::json;

namespace {

bool same_item(const BatchItem& a, const BatchItem& b) {
  if (a.error != b.error || a.request.has_value() != b.request.has_value()) return false;
  if (!a.request) return true;
  return a.request->txn == b.request->txn && a.request->keys == b.request->keys &&
         a.request->amount == b.request->amount;
}

std::string describe(const BatchItem& item) {
  if (!item.request) return "error " + show_bytes(item.error);
  std::string out = "request txn " + format_uuid(item.request->txn) + " keys [";
  for (const std::string& k : item.request->keys) out += show_bytes(k) + " ";
  return out + "] amount " + std::to_string(item.request->amount);
}

// The request a well-formed item stands for, or nullopt (reference rules).
std::optional<Request> ref_item(const json& item) {
  if (!item.is_object()) return std::nullopt;
  for (const auto& field : item.items())
    if (field.key() != "txn" && field.key() != "keys" && field.key() != "amount")
      return std::nullopt;
  Request r;
  const auto txn = item.find("txn");
  if (txn == item.end() || !txn->is_string()) return std::nullopt;
  const auto uuid = parse_uuid(txn->get<std::string>());
  if (!uuid) return std::nullopt;
  r.txn = *uuid;
  const auto keys = item.find("keys");
  if (keys == item.end() || !keys->is_array()) return std::nullopt;
  if (keys->empty() || keys->size() > 16) return std::nullopt;
  std::set<std::string> seen;
  for (const json& k : *keys) {
    if (!k.is_string()) return std::nullopt;
    const std::string key = k.get<std::string>();
    if (!ref_is_key(key) || !seen.insert(key).second) return std::nullopt;
    r.keys.push_back(key);
  }
  const auto amount = item.find("amount");
  if (amount != item.end() && !amount->is_null()) {
    if (amount->is_number_unsigned()) {
      const auto v = amount->get<std::uint64_t>();
      if (v == 0 || v > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
      r.amount = static_cast<std::int64_t>(v);
    } else if (amount->is_number_integer()) {
      r.amount = amount->get<std::int64_t>();
      if (r.amount <= 0) return std::nullopt;
    } else {
      return std::nullopt;
    }
  }
  return r;
}

// parse_batch, failing the run on anything but a returned vector.
std::vector<BatchItem> parse_ok(const std::string& text, const char* what) {
  std::vector<BatchItem> items;
  ErrorCode code{};
  std::string message;
  FUZZ_CHECK(returns_or_bad_input([&] { items = parse_batch(text); }, &code, &message, text),
             std::string(what) + " was rejected: " + message + "; text " + show_bytes(text));
  return items;
}

void check_items(const json& doc, const std::vector<BatchItem>& items, std::string_view input) {
  FUZZ_CHECK(items.size() == doc.size(), "got " + std::to_string(items.size()) + " items for " +
                                             std::to_string(doc.size()) + " elements");
  for (std::size_t i = 0; i < items.size(); ++i) {
    const BatchItem& item = items[i];
    FUZZ_CHECK(item.request.has_value() == item.error.empty(), describe(item));
    if (!item.request) {
      FUZZ_CHECK(item.error.size() <= kMaxMessageBytes, item.error);
      FUZZ_CHECK(is_valid_utf8(item.error), show_bytes(item.error));
      // A message quoting the amount quotes what was sent (never a value
      // wrapped into int64).
      const std::string got = "amount must be greater than 0, got ";
      if (item.error.compare(0, got.size(), got) == 0)
        FUZZ_CHECK(doc[i].is_object() && doc[i].contains("amount") &&
                       doc[i]["amount"].dump() == item.error.substr(got.size()),
                   item.error + " for " + doc[i].dump());
    }
    const std::optional<Request> ref = ref_item(doc[i]);
    FUZZ_CHECK(ref.has_value() == item.request.has_value(),
               "item " + std::to_string(i) + " " + doc[i].dump() + ": parse_batch gave " +
                   describe(item) + ", reference says " + (ref ? "well-formed" : "malformed"));
    if (ref) {
      FUZZ_CHECK(ref->txn == item.request->txn && ref->keys == item.request->keys &&
                     ref->amount == item.request->amount,
                 "item " + std::to_string(i) + " " + doc[i].dump() + ": " + describe(item));
      for (const std::string& k : item.request->keys) FUZZ_CHECK(!key_problem(k), show_bytes(k));
    }
  }

  // parse(canonical(x)) == parse(x), for the whole document...
  const std::vector<BatchItem> again = parse_ok(doc.dump(), "the re-serialised document");
  FUZZ_CHECK(again.size() == items.size(), doc.dump());
  for (std::size_t i = 0; i < items.size(); ++i)
    FUZZ_CHECK(same_item(again[i], items[i]), describe(again[i]) + " vs " + describe(items[i]));

  // ...for each parsed request written back canonically, and for an item on
  // its own (items are independent of each other).
  json canonical = json::array();
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (items[i].request) {
      const Request& r = *items[i].request;
      canonical.push_back({{"txn", format_uuid(r.txn)}, {"keys", r.keys}, {"amount", r.amount}});
    } else {
      canonical.push_back(doc[i]);
    }
    if (i < 8) {
      const std::vector<BatchItem> alone =
          parse_ok(json::array({doc[i]}).dump(), "a one-item batch");
      FUZZ_CHECK(alone.size() == 1 && same_item(alone[0], items[i]), doc[i].dump());
    }
  }
  const std::vector<BatchItem> rewritten = parse_ok(canonical.dump(), "the canonical requests");
  FUZZ_CHECK(rewritten.size() == items.size(), canonical.dump());
  for (std::size_t i = 0; i < items.size(); ++i)
    FUZZ_CHECK(
        same_item(rewritten[i], items[i]),
        describe(rewritten[i]) + " vs " + describe(items[i]) + "; input " + show_bytes(input));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  std::vector<BatchItem> items;
  ErrorCode code{};
  std::string message;
  const bool ok = returns_or_bad_input([&] { items = parse_batch(input); }, &code, &message, input);

  const json doc = json::parse(input.begin(), input.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    if (!ok) {
      FUZZ_CHECK((code == ErrorCode::kInvalidText && message == "requests is not valid JSON") ||
                     (code == ErrorCode::kInvalidParameter && !message.empty()),
                 "refused with " + message + ": " + show_bytes(input));
      return 0;
    }
    FUZZ_CHECK(items.size() <= kMaxBatchItems, show_bytes(input));
    for (const BatchItem& item : items) {
      FUZZ_CHECK(item.request.has_value() == item.error.empty(), describe(item));
      FUZZ_CHECK(item.error.size() <= kMaxMessageBytes, item.error);
      FUZZ_CHECK(is_valid_utf8(item.error), show_bytes(item.error));
      if (item.request)
        for (const std::string& k : item.request->keys) FUZZ_CHECK(!key_problem(k), show_bytes(k));
    }
    return 0;
  }
  if (!doc.is_array() || doc.size() > kMaxBatchItems) {
    FUZZ_CHECK(!ok && code == ErrorCode::kInvalidParameter && !message.empty(),
               "not an array of at most 10,000 items, but " +
                   (ok ? std::string("parsed") : message) + ": " + show_bytes(input));
    return 0;
  }
  FUZZ_CHECK(ok, "a JSON array was rejected: " + message + "; " + show_bytes(input));
  check_items(doc, items, input);
  return 0;
}
