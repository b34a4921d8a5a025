// Shared by the fuzz harnesses: a property check that libFuzzer reports as
// a crash, and reference versions of the grammars (written from API.md, not
// from extension/core) that the harnesses compare the real parsers against.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "error.hpp"

namespace allot::fuzz {

// A violated property: say which, then abort() so libFuzzer saves the input.
[[noreturn]] inline void fail(const char* file, int line, const char* what,
                              const std::string& detail) {
  std::fprintf(stderr, "\nPROPERTY VIOLATED at %s:%d: %s\n", file, line, what);
  if (!detail.empty()) std::fprintf(stderr, "  detail: %s\n", detail.c_str());
  std::fflush(stderr);
  std::abort();
}

#define FUZZ_CHECK(cond, detail)                                           \
  do {                                                                     \
    if (!(cond)) ::allot::fuzz::fail(__FILE__, __LINE__, #cond, (detail)); \
  } while (0)

// Printable form of arbitrary bytes for a failure message.
inline std::string show_bytes(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    }
  }
  return out + "\"";
}

// Runs f(); the only exception the core may throw at a caller is BadInput
// (the PostgreSQL glue maps it to an SQLSTATE; anything else would surface
// as an internal error). Returns the BadInput's code and message through
// the pointers; true when f() returned normally.
template <typename F>
bool returns_or_bad_input(F&& f, ErrorCode* code, std::string* message, std::string_view input) {
  try {
    f();
    return true;
  } catch (const BadInput& e) {
    *code = e.code();
    *message = e.what();
    return false;
  } catch (const std::exception& e) {
    fail(__FILE__, __LINE__, "only BadInput escapes the core",
         std::string("got std::exception: ") + e.what() + "; input " + show_bytes(input));
  } catch (...) {
    fail(__FILE__, __LINE__, "only BadInput escapes the core",
         "got a non-std exception; input " + show_bytes(input));
  }
}

// ------------------------------------------------------------ UTF-8 ----
// Well-formed UTF-8 by the byte ranges of the Unicode standard (table 3-7),
// which excludes overlong forms, surrogates and code points past U+10FFFF.
// Returns the sequence length at s[i], 0 when ill-formed; *cp gets the
// code point.
inline std::size_t utf8_at(std::string_view s, std::size_t i, std::uint32_t* cp) {
  auto b = [&](std::size_t k) -> int {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : -1;
  };
  auto in = [](int v, int lo, int hi) { return v >= lo && v <= hi; };
  const int b0 = b(0);
  if (in(b0, 0x00, 0x7F)) {
    *cp = static_cast<std::uint32_t>(b0);
    return 1;
  }
  std::size_t len = 0;
  if (in(b0, 0xC2, 0xDF) && in(b(1), 0x80, 0xBF))
    len = 2;
  else if ((b0 == 0xE0 && in(b(1), 0xA0, 0xBF)) || (in(b0, 0xE1, 0xEC) && in(b(1), 0x80, 0xBF)) ||
           (b0 == 0xED && in(b(1), 0x80, 0x9F)) || (in(b0, 0xEE, 0xEF) && in(b(1), 0x80, 0xBF)))
    len = in(b(2), 0x80, 0xBF) ? 3 : 0;
  else if ((b0 == 0xF0 && in(b(1), 0x90, 0xBF)) || (in(b0, 0xF1, 0xF3) && in(b(1), 0x80, 0xBF)) ||
           (b0 == 0xF4 && in(b(1), 0x80, 0x8F)))
    len = (in(b(2), 0x80, 0xBF) && in(b(3), 0x80, 0xBF)) ? 4 : 0;
  if (len == 0) return 0;
  std::uint32_t v = static_cast<std::uint32_t>(b0) & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
  for (std::size_t k = 1; k < len; ++k) v = (v << 6) | (static_cast<std::uint32_t>(b(k)) & 0x3F);
  *cp = v;
  return len;
}

inline bool is_valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    std::uint32_t cp;
    const std::size_t len = utf8_at(s, i, &cp);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

// ------------------------------------------------------- key grammar ----
// API.md, "Keys": kind:id segments joined by '/'; kind [a-z][a-z0-9_]*
// (<= 32 bytes); id 1..128 bytes of printable text without '/' or ':'
// (UTF-8 allowed; printable excludes the C0 and C1 controls and DEL); a
// key <= 256 bytes and <= 4 segments. A class has '*' for every id; a key
// has no id that is exactly '*'.

struct RefSegment {
  std::string_view kind;
  std::string_view id;
};

inline bool ref_kind_ok(std::string_view kind) {
  if (kind.empty() || kind.size() > 32) return false;
  if (kind[0] < 'a' || kind[0] > 'z') return false;
  for (char c : kind)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

inline bool ref_id_ok(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (std::size_t i = 0; i < id.size();) {
    std::uint32_t cp;
    const std::size_t len = utf8_at(id, i, &cp);
    if (len == 0) return false;
    if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F)) return false;
    if (cp == '/' || cp == ':') return false;
    i += len;
  }
  return true;
}

// Splits text into well-formed segments; false when it is not a sequence
// of 1..4 kind:id segments (ids may be '*' here) within 256 bytes.
inline bool ref_segments(std::string_view text, std::vector<RefSegment>* out) {
  out->clear();
  if (text.empty() || text.size() > 256) return false;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find('/', start);
    const std::string_view seg =
        text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    const std::size_t colon = seg.find(':');
    if (colon == std::string_view::npos) return false;
    out->push_back({seg.substr(0, colon), seg.substr(colon + 1)});
    if (!ref_kind_ok(out->back().kind) || !ref_id_ok(out->back().id)) return false;
    if (out->size() > 4) return false;
    if (end == std::string_view::npos) return true;
    start = end + 1;
  }
}

inline std::size_t ref_star_ids(const std::vector<RefSegment>& segments) {
  std::size_t n = 0;
  for (const auto& s : segments) n += (s.id == "*");
  return n;
}

inline bool ref_is_key(std::string_view text) {
  std::vector<RefSegment> segments;
  return ref_segments(text, &segments) && ref_star_ids(segments) == 0;
}

inline bool ref_is_class(std::string_view text) {
  std::vector<RefSegment> segments;
  return ref_segments(text, &segments) && ref_star_ids(segments) == segments.size();
}

// What BadInput::what() gives for a message: std::runtime_error hands out a
// C string, so a message ends at its first NUL byte (a key can only hold
// one outside PostgreSQL, whose text values never contain NUL).
inline std::string as_what(const std::string& message) {
  return message.substr(0, message.find('\0'));
}

// Error messages quote what the caller sent in at most 64 bytes (plus the
// quotes and "..."), so whatever the input, a message stays short.
constexpr std::size_t kMaxMessageBytes = 300;

}  // namespace allot::fuzz
