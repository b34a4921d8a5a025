#include "batch_json.hpp"

#include <nlohmann/json.hpp>

#include "error.hpp"
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
    if (!amount->is_number_integer()) throw BadInput("amount must be an integer");
    if (amount->is_number_unsigned() && amount->get<std::uint64_t>() > INT64_MAX)
      throw BadInput("amount is too large");
    r.amount = amount->get<std::int64_t>();
  }
  validate_amount(r.amount);
  return r;
}

}  // namespace

std::vector<BatchItem> parse_batch(std::string_view json_text) {
  json doc = json::parse(json_text.begin(), json_text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) throw BadInput(ErrorCode::kInvalidText, "requests is not valid JSON");
  if (!doc.is_array()) throw BadInput("requests must be a JSON array of request objects");
  if (doc.size() > kMaxBatchItems)
    throw BadInput("too many requests: " + std::to_string(doc.size()) + " (at most " +
                   std::to_string(kMaxBatchItems) + ")");
  std::vector<BatchItem> items;
  items.reserve(doc.size());
  for (const json& item : doc) {
    BatchItem out;
    try {
      out.request = parse_item(item);
    } catch (const BadInput& e) {
      out.error = e.what();
    }
    items.push_back(std::move(out));
  }
  return items;
}

}  // namespace allot
