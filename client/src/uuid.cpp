// allot::Uuid: parsing (the forms PostgreSQL's uuid_in accepts), formatting
// and version-4 generation.
#include <random>

#include "allot/errors.hpp"
#include "allot/types.hpp"

namespace allot {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

[[noreturn]] void malformed(std::string_view text) {
  throw BadRequest("invalid UUID: \"" + std::string(text) + "\"", "22P02");
}

// One generator per thread, seeded from std::random_device (the OS CSPRNG
// on Linux) with a full 256-bit seed.
std::mt19937_64& generator() {
  thread_local std::mt19937_64 gen = [] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }();
  return gen;
}

}  // namespace

Uuid Uuid::random() {
  Uuid u;
  auto& gen = generator();
  for (int half = 0; half < 2; ++half) {
    std::uint64_t v = gen();
    for (int i = 0; i < 8; ++i) u.bytes_[half * 8 + i] = static_cast<std::uint8_t>(v >> (8 * i));
  }
  u.bytes_[6] = static_cast<std::uint8_t>((u.bytes_[6] & 0x0f) | 0x40);  // version 4
  u.bytes_[8] = static_cast<std::uint8_t>((u.bytes_[8] & 0x3f) | 0x80);  // variant 10xx
  return u;
}

// Mirrors PostgreSQL's uuid_in: optional braces around 32 hex digits (either
// case), with an optional hyphen after any group of four digits but the last.
Uuid Uuid::parse(std::string_view text) {
  Uuid u;
  std::size_t pos = 0;
  const bool braces = !text.empty() && text[0] == '{';
  if (braces) ++pos;
  for (std::size_t i = 0; i < u.bytes_.size(); ++i) {
    if (pos + 2 > text.size()) malformed(text);
    const int hi = hex_value(text[pos]), lo = hex_value(text[pos + 1]);
    if (hi < 0 || lo < 0) malformed(text);
    u.bytes_[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    pos += 2;
    if (pos < text.size() && text[pos] == '-' && i % 2 == 1 && i < u.bytes_.size() - 1) ++pos;
  }
  if (braces) {
    if (pos >= text.size() || text[pos] != '}') malformed(text);
    ++pos;
  }
  if (pos != text.size()) malformed(text);
  return u;
}

std::string Uuid::str() const {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < bytes_.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += digits[bytes_[i] >> 4];
    out += digits[bytes_[i] & 0x0f];
  }
  return out;
}

}  // namespace allot
