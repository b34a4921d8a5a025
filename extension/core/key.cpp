#include "key.hpp"

#include <cstdint>
#include <vector>

#include "error.hpp"
#include "utf8.hpp"

namespace allot {
namespace {

bool is_kind_start(unsigned char c) { return c >= 'a' && c <= 'z'; }
bool is_kind_char(unsigned char c) {
  return is_kind_start(c) || (c >= '0' && c <= '9') || c == '_';
}

// Length of the printable UTF-8 character starting at s[i], or 0 when the
// bytes there are not well-formed UTF-8 or are a C1 control character
// (U+0080..U+009F), which is not printable.
std::size_t printable_sequence_length(std::string_view s, std::size_t i) {
  std::uint32_t cp;
  const std::size_t len = utf8_sequence_at(s, i, &cp);
  if (len == 0 || (cp >= 0x80 && cp <= 0x9F)) return 0;
  return len;
}

std::optional<std::string> kind_problem(std::string_view kind) {
  if (kind.empty()) return std::string("empty kind");
  if (kind.size() > kMaxKindBytes)
    return "kind longer than " + std::to_string(kMaxKindBytes) + " bytes";
  if (!is_kind_start(static_cast<unsigned char>(kind[0])))
    return std::string("kind must start with a lowercase letter a-z");
  for (unsigned char c : kind)
    if (!is_kind_char(c)) return std::string("kind may contain only a-z, 0-9 and _");
  return std::nullopt;
}

// Checks the bytes of an id. "*" passes here (classes use it); keys reject
// it separately in key_problem.
std::optional<std::string> id_problem(std::string_view id) {
  if (id.empty()) return std::string("empty id");
  if (id.size() > kMaxIdBytes) return "id longer than " + std::to_string(kMaxIdBytes) + " bytes";
  for (std::size_t i = 0; i < id.size();) {
    const auto c = static_cast<unsigned char>(id[i]);
    if (c < 0x20 || c == 0x7F) return std::string("id contains a control character");
    if (c == ':') return std::string("id contains ':'");
    const std::size_t len = printable_sequence_length(id, i);
    if (len == 0) return std::string("id is not printable UTF-8");
    i += len;
  }
  return std::nullopt;
}

struct Segment {
  std::string_view kind;
  std::string_view id;
};

// Splits on '/' and ':'; reports structural problems (segment count, missing
// ':'), leaving the content checks to kind_problem / id_problem.
std::optional<std::string> split_segments(std::string_view text, std::vector<Segment>* out) {
  if (text.empty()) return std::string("empty key");
  if (text.size() > kMaxKeyBytes) return "longer than " + std::to_string(kMaxKeyBytes) + " bytes";
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = text.find('/', start);
    const std::string_view seg = text.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (out->size() == kMaxKeySegments)
      return "more than " + std::to_string(kMaxKeySegments) + " segments";
    const std::size_t colon = seg.find(':');
    const std::string where = "segment " + std::to_string(out->size() + 1);
    if (colon == std::string_view::npos)
      return where + " " + quote_for_message(seg) + " is not kind:id";
    out->push_back({seg.substr(0, colon), seg.substr(colon + 1)});
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  for (std::size_t i = 0; i < out->size(); ++i) {
    const std::string where = "segment " + std::to_string(i + 1) + ": ";
    if (auto p = kind_problem((*out)[i].kind)) return where + *p;
    if (auto p = id_problem((*out)[i].id)) return where + *p;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> key_problem(std::string_view key) {
  std::vector<Segment> segments;
  if (auto p = split_segments(key, &segments)) return p;
  for (const auto& s : segments)
    if (s.id == "*") return std::string("id \"*\" is reserved for classes");
  return std::nullopt;
}

std::string quote_for_message(std::string_view text) {
  constexpr std::size_t kMaxQuoted = 64;  // bytes between the quotes, "..." aside
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size();) {
    // A whole character, or a byte that is not part of one written as \xNN.
    std::uint32_t cp;
    const std::size_t len = utf8_sequence_at(text, i, &cp);
    const std::string piece =
        len ? std::string(text.substr(i, len)) : escape_invalid_utf8(text.substr(i, 1));
    if (out.size() - 1 + piece.size() > kMaxQuoted) {
      out += "...";
      break;
    }
    out += piece;
    i += len ? len : 1;
  }
  return out + "\"";
}

void validate_key(std::string_view key, std::string_view what) {
  if (auto p = key_problem(key))
    throw BadInput("invalid " + std::string(what) + " " + quote_for_message(key) + ": " + *p);
}

std::string key_class(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  std::size_t start = 0;
  while (true) {
    const std::size_t colon = key.find(':', start);
    out.append(key.substr(start, colon - start + 1));
    out.push_back('*');
    const std::size_t slash = key.find('/', colon);
    if (slash == std::string_view::npos) break;
    out.push_back('/');
    start = slash + 1;
  }
  return out;
}

ScopeKind parse_scope(std::string_view scope) {
  std::vector<Segment> segments;
  if (auto p = split_segments(scope, &segments))
    throw BadInput("invalid scope " + quote_for_message(scope) + ": " + *p);
  std::size_t stars = 0;
  for (const auto& s : segments) stars += (s.id == "*");
  if (stars == 0) return ScopeKind::kKey;
  if (stars == segments.size()) return ScopeKind::kClass;
  throw BadInput("invalid scope " + quote_for_message(scope) +
                 ": a scope is a key or a class; mix of ids and '*' is not supported");
}

}  // namespace allot
