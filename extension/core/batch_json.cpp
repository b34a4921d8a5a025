#include "batch_json.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

#include "error.hpp"
#include "json_scan.hpp"
#include "key.hpp"

namespace allot {
namespace {

using nlohmann::json;

Request parse_item(const json& item) {
  if (!item.is_object()) throw BadInput("item must be a JSON object");
  for (const auto& field : item.items())
    if (field.key() != "txn" && field.key() != "keys" && field.key() != "amount")
      throw BadInput("unknown field " + quote_for_message(field.key()));
  Request r;
  const auto txn = item.find("txn");
  if (txn == item.end() || txn->is_null()) throw BadInput("txn is missing");
  if (!txn->is_string()) throw BadInput("txn must be a UUID string");
  const auto uuid = parse_uuid(txn->get_ref<const std::string&>());
  if (!uuid)
    throw BadInput("txn is not a valid UUID: " + quote_for_message(txn->get<std::string>()));
  r.txn = *uuid;

  const auto keys = item.find("keys");
  if (keys == item.end() || keys->is_null()) throw BadInput("keys is missing");
  if (!keys->is_array()) throw BadInput("keys must be an array of strings");
  for (const json& k : *keys) {
    if (!k.is_string()) throw BadInput("keys must be an array of strings");
    r.keys.push_back(k.get<std::string>());
  }
  validate_keys(r.keys);

  const auto amount = item.find("amount");
  if (amount != item.end() && !amount->is_null()) {
    if (amount->is_number_float() && !std::isfinite(amount->get<double>()))
      throw BadInput("amount is out of range");
    if (!amount->is_number_integer()) throw BadInput("amount must be an integer");
    if (amount->is_number_unsigned() && amount->get<std::uint64_t>() > INT64_MAX)
      throw BadInput("amount is too large");
    r.amount = amount->get<std::int64_t>();
  }
  validate_amount(r.amount);
  return r;
}

// A JSON value the library refused although its syntax is sound: a number
// beyond the range of a double, or a string that is not UTF-8 (possible in
// a SQL_ASCII database). Rebuilt here so that parse_item can judge it like
// any other item: such a number becomes an infinity, such a string keeps
// its bytes (parse_item quotes them escaped). Below the fields of an item
// no value can be valid, so deeper containers are kept only as empty ones
// of their kind (which keeps the recursion shallow).
json lenient_value(std::string_view text, int depth) {
  json parsed = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_discarded()) return parsed;
  switch (text.front()) {
    case '"':
      return json(json_scan::string_bytes(text));
    case '[': {
      json out = json::array();
      if (depth >= 2) return out;
      const std::vector<std::string_view> elements = json_scan::array_elements(text).value();
      for (std::string_view element : elements) out.push_back(lenient_value(element, depth + 1));
      return out;
    }
    case '{': {
      json out = json::object();
      if (depth >= 2) return out;
      const std::vector<json_scan::Member> members = json_scan::object_members(text).value();
      for (const json_scan::Member& m : members)
        out[json_scan::string_bytes(m.name)] = lenient_value(m.value, depth + 1);  // last wins
      return out;
    }
    default:  // a number too large for a double
      return json(text.front() == '-' ? -HUGE_VAL : HUGE_VAL);
  }
}

BatchItem batch_item(const json& item) {
  BatchItem out;
  try {
    out.request = parse_item(item);
  } catch (const BadInput& e) {
    out.error = e.what();
  }
  return out;
}

void check_batch_size(std::size_t size) {
  if (size > kMaxBatchItems)
    throw BadInput("too many requests: " + std::to_string(size) + " (at most " +
                   std::to_string(kMaxBatchItems) + ")");
}

const char kNotAnArray[] = "requests must be a JSON array of request objects";

// The batch when the JSON library refused the text as a whole: if its
// syntax is sound, each element is parsed on its own, and only the
// elements the library refuses are rebuilt by lenient_value.
std::vector<BatchItem> parse_batch_leniently(std::string_view json_text) {
  const std::optional<std::string_view> whole = json_scan::whole_value(json_text);
  if (!whole) throw BadInput(ErrorCode::kInvalidText, "requests is not valid JSON");
  const std::optional<std::vector<std::string_view>> elements = json_scan::array_elements(*whole);
  if (!elements) throw BadInput(kNotAnArray);
  check_batch_size(elements->size());
  std::vector<BatchItem> items;
  items.reserve(elements->size());
  for (std::string_view element : *elements) items.push_back(batch_item(lenient_value(element, 0)));
  return items;
}

}  // namespace

std::vector<BatchItem> parse_batch(std::string_view json_text) {
  json doc = json::parse(json_text.begin(), json_text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return parse_batch_leniently(json_text);
  if (!doc.is_array()) throw BadInput(kNotAnArray);
  check_batch_size(doc.size());
  std::vector<BatchItem> items;
  items.reserve(doc.size());
  for (const json& item : doc) items.push_back(batch_item(item));
  return items;
}

}  // namespace allot
