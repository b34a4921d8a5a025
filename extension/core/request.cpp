#include "request.hpp"

#include <algorithm>
#include <set>

#include "error.hpp"
#include "key.hpp"

namespace allot {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<Uuid> parse_uuid(std::string_view text) {
  if (text.size() >= 2 && text.front() == '{' && text.back() == '}')
    text = text.substr(1, text.size() - 2);
  const bool hyphenated = text.size() == 36;
  if (!hyphenated && text.size() != 32) return std::nullopt;
  Uuid out{};
  std::size_t nibble = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (hyphenated && (i == 8 || i == 13 || i == 18 || i == 23)) {
      if (text[i] != '-') return std::nullopt;
      continue;
    }
    const int v = hex_value(text[i]);
    if (v < 0) return std::nullopt;
    out[nibble / 2] = static_cast<std::uint8_t>(out[nibble / 2] | (nibble % 2 ? v : v << 4));
    ++nibble;
  }
  return out;
}

std::string format_uuid(const Uuid& uuid) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < uuid.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[uuid[i] >> 4]);
    out.push_back(kHex[uuid[i] & 0xF]);
  }
  return out;
}

void validate_keys(const std::vector<std::string>& keys) {
  if (keys.empty()) throw BadInput("keys must not be empty");
  if (keys.size() > kMaxKeysPerRequest)
    throw BadInput("too many keys: " + std::to_string(keys.size()) + " (at most " +
                   std::to_string(kMaxKeysPerRequest) + ")");
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    validate_key(keys[i], "key " + std::to_string(i + 1));
    if (!seen.insert(keys[i]).second) throw BadInput("duplicate key " + quote_for_message(keys[i]));
  }
}

void validate_amount(std::int64_t amount) {
  if (amount <= 0) throw BadInput("amount must be greater than 0, got " + std::to_string(amount));
}

std::vector<std::string> sorted_keys(std::vector<std::string> keys) {
  std::sort(keys.begin(), keys.end());
  return keys;
}

}  // namespace allot
