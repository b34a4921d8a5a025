// A redemption request (txn, keys, amount) and the rules for a well-formed
// one (API.md, "Errors"): 1..16 keys, each valid, no duplicates, amount > 0.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace allot {

constexpr std::size_t kMaxKeysPerRequest = 16;
constexpr std::size_t kMaxBatchItems = 10000;

using Uuid = std::array<std::uint8_t, 16>;

// Parses the forms PostgreSQL's uuid type prints and most people write:
// 32 hex digits, optionally with the usual hyphens and optionally in braces.
std::optional<Uuid> parse_uuid(std::string_view text);
std::string format_uuid(const Uuid& uuid);

struct Request {
  Uuid txn{};
  std::vector<std::string> keys;
  std::int64_t amount = 1;
};

// Throws BadInput naming the first problem found.
void validate_keys(const std::vector<std::string>& keys);
void validate_amount(std::int64_t amount);

// The keys sorted bytewise: the order rows are locked in, and the form
// stored for replay comparison ("same request" ignores key order).
std::vector<std::string> sorted_keys(std::vector<std::string> keys);

}  // namespace allot
