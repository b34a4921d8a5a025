#include "encode.hpp"

#include <nlohmann/json.hpp>

#include "allot/errors.hpp"

namespace allot::detail {

void check_no_nul(const std::string& value, const char* what) {
  if (value.find('\0') != std::string::npos)
    throw BadRequest(std::string(what) + " contains a NUL byte", "22021");
}

std::string text_array_literal(const std::vector<std::string>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    check_no_nul(items[i], "key");
    if (i > 0) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::string redeem_many_json(const std::vector<Request>& requests) {
  nlohmann::json items = nlohmann::json::array();
  for (const Request& r : requests) {
    for (const std::string& k : r.keys) check_no_nul(k, "key");
    items.push_back({{"txn", r.txn.str()}, {"keys", r.keys}, {"amount", r.amount}});
  }
  // Strict UTF-8: invalid bytes throw (mapped to BadRequest) rather than
  // being replaced, which would redeem a different key than asked for.
  return items.dump();
}

std::optional<std::string> interval_text(std::chrono::microseconds per) {
  if (per.count() == 0) return std::nullopt;
  return std::to_string(per.count()) + " microseconds";
}

}  // namespace allot::detail
