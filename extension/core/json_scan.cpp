#include "json_scan.hpp"

#include <cstdint>

namespace allot::json_scan {
namespace {

bool is_whitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Past the string token at text[pos] (a '"'), or kInvalid.
std::size_t skip_string(std::string_view text, std::size_t pos) {
  for (std::size_t i = pos + 1; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"') return i + 1;
    if (c < 0x20) return kInvalid;  // control characters must be escaped
    if (c != '\\') {
      ++i;
      continue;
    }
    if (i + 1 >= text.size()) return kInvalid;
    const char e = text[i + 1];
    if (e == 'u') {
      if (text.size() - i < 6) return kInvalid;
      for (std::size_t k = 2; k < 6; ++k)
        if (hex_value(text[i + k]) < 0) return kInvalid;
      i += 6;
    } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' ||
               e == 't') {
      i += 2;
    } else {
      return kInvalid;
    }
  }
  return kInvalid;
}

// Past the number token at text[pos]: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
std::size_t skip_number(std::string_view text, std::size_t pos) {
  std::size_t i = pos;
  auto digits = [&] {
    const std::size_t from = i;
    while (i < text.size() && is_digit(text[i])) ++i;
    return i > from;
  };
  if (i < text.size() && text[i] == '-') ++i;
  if (i < text.size() && text[i] == '0')
    ++i;
  else if (!digits())
    return kInvalid;
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (!digits()) return kInvalid;
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (!digits()) return kInvalid;
  }
  return i;
}

std::size_t skip_literal(std::string_view text, std::size_t pos) {
  for (std::string_view word : {"true", "false", "null"})
    if (text.substr(pos, word.size()) == word) return pos + word.size();
  return kInvalid;
}

// Past `"name" :` at text[pos] (after whitespace), or kInvalid.
std::size_t skip_member_name(std::string_view text, std::size_t pos) {
  std::size_t i = skip_whitespace(text, pos);
  if (i >= text.size() || text[i] != '"') return kInvalid;
  i = skip_string(text, i);
  if (i == kInvalid) return kInvalid;
  i = skip_whitespace(text, i);
  if (i >= text.size() || text[i] != ':') return kInvalid;
  return i + 1;
}

void append_utf8(std::string* out, std::uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::uint32_t hex4(std::string_view text, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t k = 0; k < 4; ++k)
    v = (v << 4) | static_cast<std::uint32_t>(hex_value(text[at + k]));
  return v;
}

}  // namespace

std::size_t skip_whitespace(std::string_view text, std::size_t pos) {
  while (pos < text.size() && is_whitespace(text[pos])) ++pos;
  return pos;
}

std::size_t skip_value(std::string_view text, std::size_t pos) {
  std::vector<char> open;  // the containers we are in: '[' or '{'
  std::size_t i = skip_whitespace(text, pos);
  for (;;) {
    // A value starts at i.
    if (i >= text.size()) return kInvalid;
    const char c = text[i];
    bool have_value = true;
    if (c == '[' || c == '{') {
      const std::size_t inner = skip_whitespace(text, i + 1);
      if (inner < text.size() && text[inner] == (c == '[' ? ']' : '}')) {
        i = inner + 1;  // empty: a complete value
      } else {
        open.push_back(c);
        i = c == '{' ? skip_member_name(text, i + 1) : i + 1;
        if (i == kInvalid) return kInvalid;
        i = skip_whitespace(text, i);
        have_value = false;  // its first element comes next
      }
    } else if (c == '"') {
      i = skip_string(text, i);
    } else if (c == '-' || is_digit(c)) {
      i = skip_number(text, i);
    } else {
      i = skip_literal(text, i);
    }
    if (i == kInvalid) return kInvalid;
    if (!have_value) continue;
    // After a value: close what ends here, then a ',' leads to the next.
    for (;;) {
      if (open.empty()) return i;
      i = skip_whitespace(text, i);
      if (i >= text.size()) return kInvalid;
      const char close = open.back() == '[' ? ']' : '}';
      if (text[i] == close) {
        open.pop_back();
        ++i;
        continue;
      }
      if (text[i] != ',') return kInvalid;
      i = open.back() == '{' ? skip_member_name(text, i + 1) : i + 1;
      if (i == kInvalid) return kInvalid;
      i = skip_whitespace(text, i);
      break;
    }
  }
}

std::optional<std::string_view> whole_value(std::string_view text) {
  std::size_t start = 0;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") start = 3;
  start = skip_whitespace(text, start);
  const std::size_t end = skip_value(text, start);
  if (end == kInvalid || skip_whitespace(text, end) != text.size()) return std::nullopt;
  return text.substr(start, end - start);
}

std::optional<std::vector<std::string_view>> array_elements(std::string_view value) {
  if (value.empty() || value.front() != '[') return std::nullopt;
  std::vector<std::string_view> out;
  std::size_t i = skip_whitespace(value, 1);
  if (i < value.size() && value[i] == ']') return out;
  for (;;) {
    const std::size_t end = skip_value(value, i);
    if (end == kInvalid) return std::nullopt;
    out.push_back(value.substr(i, end - i));
    i = skip_whitespace(value, end);
    if (i >= value.size()) return std::nullopt;
    if (value[i] == ']') return out;
    if (value[i] != ',') return std::nullopt;
    i = skip_whitespace(value, i + 1);
  }
}

std::optional<std::vector<Member>> object_members(std::string_view value) {
  if (value.empty() || value.front() != '{') return std::nullopt;
  std::vector<Member> out;
  std::size_t i = skip_whitespace(value, 1);
  if (i < value.size() && value[i] == '}') return out;
  for (;;) {
    if (i >= value.size() || value[i] != '"') return std::nullopt;
    const std::size_t name_end = skip_string(value, i);
    if (name_end == kInvalid) return std::nullopt;
    const std::string_view name = value.substr(i, name_end - i);
    i = skip_whitespace(value, name_end);
    if (i >= value.size() || value[i] != ':') return std::nullopt;
    i = skip_whitespace(value, i + 1);
    const std::size_t end = skip_value(value, i);
    if (end == kInvalid) return std::nullopt;
    out.push_back({name, value.substr(i, end - i)});
    i = skip_whitespace(value, end);
    if (i >= value.size()) return std::nullopt;
    if (value[i] == '}') return out;
    if (value[i] != ',') return std::nullopt;
    i = skip_whitespace(value, i + 1);
  }
}

std::string string_bytes(std::string_view token) {
  std::string out;
  if (token.size() < 2) return out;
  const std::string_view body = token.substr(1, token.size() - 2);
  out.reserve(body.size());
  for (std::size_t i = 0; i < body.size();) {
    if (body[i] != '\\' || i + 1 >= body.size()) {
      out.push_back(body[i++]);
      continue;
    }
    const char e = body[i + 1];
    if (e != 'u' || body.size() - i < 6) {
      switch (e) {
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        default:
          out.push_back(e);
          break;  // \" \\ \/
      }
      i += 2;
      continue;
    }
    std::uint32_t cp = hex4(body, i + 2);
    i += 6;
    if (cp >= 0xD800 && cp <= 0xDBFF && body.size() - i >= 6 && body[i] == '\\' &&
        body[i + 1] == 'u') {
      const std::uint32_t low = hex4(body, i + 2);
      if (low >= 0xDC00 && low <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        i += 6;
      }
    }
    append_utf8(&out, cp);
  }
  return out;
}

}  // namespace allot::json_scan
