#include "utf8.hpp"

#include <cstdio>

#include "error.hpp"

namespace allot {

std::size_t utf8_sequence_at(std::string_view text, std::size_t i, std::uint32_t* code_point) {
  const auto c0 = static_cast<unsigned char>(text[i]);
  std::size_t len;
  std::uint32_t cp;
  if (c0 < 0x80) {
    *code_point = c0;
    return 1;
  }
  if ((c0 & 0xE0) == 0xC0) {
    len = 2;
    cp = c0 & 0x1F;
  } else if ((c0 & 0xF0) == 0xE0) {
    len = 3;
    cp = c0 & 0x0F;
  } else if ((c0 & 0xF8) == 0xF0) {
    len = 4;
    cp = c0 & 0x07;
  } else {
    return 0;
  }
  if (len > text.size() - i) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto c = static_cast<unsigned char>(text[i + k]);
    if ((c & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (c & 0x3F);
  }
  static const std::uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMinForLength[len] || cp > 0x10FFFF) return 0;
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
  *code_point = cp;
  return len;
}

std::optional<std::size_t> invalid_utf8_at(std::string_view text) {
  std::uint32_t cp;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t len = utf8_sequence_at(text, i, &cp);
    if (len == 0) return i;
    i += len;
  }
  return std::nullopt;
}

std::string escape_invalid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::uint32_t cp;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t len = utf8_sequence_at(text, i, &cp);
    if (len == 0) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned char>(text[i]));
      out += buf;
      ++i;
    } else {
      out.append(text.substr(i, len));
      i += len;
    }
  }
  return out;
}

void require_utf8(std::string_view text, std::string_view what) {
  const std::optional<std::size_t> bad = invalid_utf8_at(text);
  if (!bad) return;
  char byte[8];
  std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned char>(text[*bad]));
  throw BadInput(ErrorCode::kInvalidEncoding, std::string(what) + " is not valid UTF-8 (byte " +
                                                  byte + " at offset " + std::to_string(*bad) +
                                                  ")");
}

}  // namespace allot
