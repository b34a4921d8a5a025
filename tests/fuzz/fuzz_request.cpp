// Fuzzes request building and validation (extension/core/request.hpp):
// parse_uuid / format_uuid, validate_keys, validate_amount, sorted_keys.
//
// Input: the whole input, and its first line, are UUID candidates; the
// lines after the first are the keys of a request (so a key never holds
// '\n', which fuzz_key covers); the first 8 bytes, read as a little-endian
// int64, are an amount.
//
// Properties checked:
//  - parse_uuid accepts exactly the documented forms (32 hex digits, or
//    8-4-4-4-12 with hyphens, either optionally in braces) with the value
//    those digits spell, and everything it accepts PostgreSQL's uuid_in
//    accepts too, with the same value (txn in redeem_many and txn in redeem
//    must name the same transaction);
//  - format_uuid prints 36 lowercase characters that parse back to the same
//    UUID, also in braces and in uppercase;
//  - validate_keys throws BadInput(22023) iff the keys break a rule of
//    API.md (1..16 keys, each valid, no duplicates), naming the first
//    problem in order with the documented message;
//  - validate_amount rejects exactly amounts <= 0;
//  - sorted_keys is a bytewise (unsigned) sorted permutation of its input.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "error.hpp"
#include "fuzz_support.hpp"
#include "key.hpp"
#include "request.hpp"

using namespace allot;
using namespace allot::fuzz;

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The documented forms, by position.
std::optional<Uuid> ref_documented_uuid(std::string_view s) {
  if (s.size() == 34 || s.size() == 38) {
    if (s.front() != '{' || s.back() != '}') return std::nullopt;
    s = s.substr(1, s.size() - 2);
  }
  std::string digits;
  if (s.size() == 36) {
    for (std::size_t i = 0; i < s.size(); ++i) {
      const bool hyphen_place = i == 8 || i == 13 || i == 18 || i == 23;
      if (hyphen_place != (s[i] == '-')) return std::nullopt;
      if (!hyphen_place) digits.push_back(s[i]);
    }
  } else if (s.size() == 32) {
    digits = std::string(s);
  } else {
    return std::nullopt;
  }
  Uuid out{};
  for (std::size_t i = 0; i < 32; ++i) {
    const int v = hex_digit(digits[i]);
    if (v < 0) return std::nullopt;
    out[i / 2] = static_cast<std::uint8_t>(out[i / 2] * 16 + v);
  }
  return out;
}

// PostgreSQL 15's uuid_in (string_to_uuid): an optional '{', 16 pairs of
// hex digits with an optional '-' after every second pair but the last,
// the matching '}', nothing else.
std::optional<Uuid> ref_postgres_uuid(std::string_view s) {
  std::size_t p = 0;
  const bool braces = !s.empty() && s[0] == '{';
  if (braces) ++p;
  Uuid out{};
  for (std::size_t i = 0; i < 16; ++i) {
    if (p + 2 > s.size()) return std::nullopt;
    const int hi = hex_digit(s[p]), lo = hex_digit(s[p + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
    p += 2;
    if (p < s.size() && s[p] == '-' && i % 2 == 1 && i < 15) ++p;
  }
  if (braces) {
    if (p >= s.size() || s[p] != '}') return std::nullopt;
    ++p;
  }
  if (p != s.size()) return std::nullopt;
  return out;
}

void check_format(const Uuid& u) {
  const std::string text = format_uuid(u);
  FUZZ_CHECK(text.size() == 36, text);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool hyphen_place = i == 8 || i == 13 || i == 18 || i == 23;
    const char c = text[i];
    FUZZ_CHECK(hyphen_place ? c == '-' : ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')), text);
  }
  FUZZ_CHECK(parse_uuid(text) == u, text);
  FUZZ_CHECK(parse_uuid("{" + text + "}") == u, text);
  std::string upper = text;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  FUZZ_CHECK(parse_uuid(upper) == u, upper);
  FUZZ_CHECK(ref_postgres_uuid(text) == u, text);
}

void check_uuid(std::string_view text) {
  const std::optional<Uuid> got = parse_uuid(text);
  const std::optional<Uuid> documented = ref_documented_uuid(text);
  FUZZ_CHECK(got == documented,
             "parse_uuid and the documented forms disagree on " + show_bytes(text));
  if (!got) return;
  FUZZ_CHECK(ref_postgres_uuid(text) == got,
             "parse_uuid accepts what PostgreSQL's uuid_in does not (or reads it differently): " +
                 show_bytes(text));
  check_format(*got);
}

// The message validate_keys must give for `keys`, "" when they are fine.
std::string expected_keys_message(const std::vector<std::string>& keys) {
  if (keys.empty()) return "keys must not be empty";
  if (keys.size() > 16) return "too many keys: " + std::to_string(keys.size()) + " (at most 16)";
  std::set<std::string> seen;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (!ref_is_key(keys[i]))
      return "invalid key " + std::to_string(i + 1) + " " + quote_for_message(keys[i]) + ": " +
             key_problem(keys[i]).value_or("<key_problem found none>");
    if (!seen.insert(keys[i]).second) return "duplicate key " + quote_for_message(keys[i]);
  }
  return "";
}

void check_keys(const std::vector<std::string>& keys, std::string_view input) {
  ErrorCode code{};
  std::string message;
  const bool ok = returns_or_bad_input([&] { validate_keys(keys); }, &code, &message, input);
  const std::string expected = expected_keys_message(keys);
  FUZZ_CHECK(ok == expected.empty(), "validate_keys " + std::string(ok ? "accepted" : "rejected") +
                                         " " + show_bytes(input) + "; expected: " + expected +
                                         "; got: " + message);
  if (!ok) {
    FUZZ_CHECK(code == ErrorCode::kInvalidParameter, message);
    FUZZ_CHECK(message == as_what(expected),
               "got " + show_bytes(message) + ", want " + show_bytes(expected));
    FUZZ_CHECK(message.size() <= kMaxMessageBytes, message);
  }

  const std::vector<std::string> sorted = sorted_keys(keys);
  FUZZ_CHECK(sorted.size() == keys.size(), show_bytes(input));
  for (std::size_t i = 1; i < sorted.size(); ++i) {
    const std::string& a = sorted[i - 1];
    const std::string& b = sorted[i];
    const int c = std::memcmp(a.data(), b.data(), std::min(a.size(), b.size()));
    FUZZ_CHECK(c < 0 || (c == 0 && a.size() <= b.size()),
               "not bytewise sorted: " + show_bytes(a) + " before " + show_bytes(b));
  }
  FUZZ_CHECK(std::multiset<std::string>(sorted.begin(), sorted.end()) ==
                 std::multiset<std::string>(keys.begin(), keys.end()),
             show_bytes(input));
}

void check_amount(std::string_view input) {
  std::uint64_t bits = 0;
  std::memcpy(&bits, input.data(), std::min<std::size_t>(8, input.size()));
  const auto amount = static_cast<std::int64_t>(bits);
  ErrorCode code{};
  std::string message;
  const bool ok = returns_or_bad_input([&] { validate_amount(amount); }, &code, &message, input);
  FUZZ_CHECK(ok == (amount > 0), std::to_string(amount));
  if (!ok) {
    FUZZ_CHECK(code == ErrorCode::kInvalidParameter, message);
    FUZZ_CHECK(message == "amount must be greater than 0, got " + std::to_string(amount), message);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  check_uuid(input);
  const std::size_t newline = input.find('\n');
  check_uuid(input.substr(0, newline));
  if (size >= 16) {
    Uuid raw;
    std::memcpy(raw.data(), data, 16);
    check_format(raw);
  }
  check_amount(input);

  std::vector<std::string> keys;
  if (newline != std::string_view::npos) {
    std::size_t start = newline + 1;
    while (true) {
      const std::size_t end = input.find('\n', start);
      keys.emplace_back(input.substr(start, end == std::string_view::npos ? end : end - start));
      if (end == std::string_view::npos) break;
      start = end + 1;
    }
  }
  check_keys(keys, input);
  return 0;
}
