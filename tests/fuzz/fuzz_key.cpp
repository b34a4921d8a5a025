// Fuzzes the key grammar (extension/core/key.hpp) with arbitrary bytes:
// key_problem, validate_key, key_class, parse_scope, quote_for_message.
//
// Properties checked:
//  - key_problem agrees with a reference grammar written from API.md;
//  - validate_key throws BadInput(22023) exactly when key_problem names a
//    problem, and its message is "invalid <what> <quoted key>: <problem>"
//    (cut at a NUL byte: what() is a C string);
//  - parse_scope answers kKey for keys, kClass for classes and rejects
//    everything else (per the reference) with a BadInput naming the scope;
//  - the class of a valid key is a valid class with the same kinds, its own
//    class, and not a key;
//  - quote_for_message writes the bytes that are not UTF-8 as \xNN, quotes
//    at most 64 bytes of that, cuts only between characters (or escapes),
//    and marks a cut with "...";
//  - every message is non-empty, short, and valid UTF-8 whatever the input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "error.hpp"
#include "fuzz_support.hpp"
#include "key.hpp"

using namespace allot;
using namespace allot::fuzz;

namespace {

void check_message(const std::string& message, std::string_view input) {
  FUZZ_CHECK(!message.empty(), "input " + show_bytes(input));
  FUZZ_CHECK(message.size() <= kMaxMessageBytes, message);
  FUZZ_CHECK(is_valid_utf8(message), show_bytes(message));
}

// The input with every byte that is not part of a well-formed sequence
// written as \xNN (reference for quote_for_message), and where each
// character or escape ends.
std::string ref_escaped(std::string_view input, std::vector<std::size_t>* ends) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (std::size_t i = 0; i < input.size();) {
    std::uint32_t cp;
    const std::size_t len = utf8_at(input, i, &cp);
    if (len == 0) {
      const auto b = static_cast<unsigned char>(input[i]);
      out += {'\\', 'x', kHex[b >> 4], kHex[b & 0xF]};
      ++i;
    } else {
      out += input.substr(i, len);
      i += len;
    }
    ends->push_back(out.size());
  }
  return out;
}

void check_quote(std::string_view input) {
  const std::string q = quote_for_message(input);
  FUZZ_CHECK(q.size() >= 2 && q.front() == '"' && q.back() == '"', show_bytes(q));
  FUZZ_CHECK(is_valid_utf8(q), show_bytes(q));
  const std::string_view inner = std::string_view(q).substr(1, q.size() - 2);
  std::vector<std::size_t> ends;
  const std::string escaped = ref_escaped(input, &ends);
  if (escaped.size() <= 64) {
    FUZZ_CHECK(inner == escaped, show_bytes(q));
    return;
  }
  FUZZ_CHECK(inner.size() >= 3 && inner.substr(inner.size() - 3) == "...", show_bytes(q));
  const std::string_view kept = inner.substr(0, inner.size() - 3);
  FUZZ_CHECK(kept.size() <= 64 && escaped.compare(0, kept.size(), kept) == 0, show_bytes(q));
  // Cut at the end of the last character or escape that fits.
  std::size_t fits = 0;
  for (std::size_t e : ends)
    if (e <= 64) fits = e;
  FUZZ_CHECK(kept.size() == fits, show_bytes(q));
}

void check_class_of(std::string_view key) {
  const std::string cls = key_class(key);
  std::vector<RefSegment> key_segments, class_segments;
  FUZZ_CHECK(ref_segments(key, &key_segments), show_bytes(key));
  FUZZ_CHECK(ref_is_class(cls), "key " + show_bytes(key) + " class " + show_bytes(cls));
  FUZZ_CHECK(ref_segments(cls, &class_segments), show_bytes(cls));
  FUZZ_CHECK(class_segments.size() == key_segments.size(), show_bytes(cls));
  for (std::size_t i = 0; i < key_segments.size(); ++i)
    FUZZ_CHECK(class_segments[i].kind == key_segments[i].kind, show_bytes(cls));
  FUZZ_CHECK(key_class(cls) == cls, show_bytes(cls));  // a class is its own class
  FUZZ_CHECK(key_problem(cls).has_value(), "class accepted as a key: " + show_bytes(cls));

  ErrorCode code{};
  std::string message;
  ScopeKind kind{};
  FUZZ_CHECK(returns_or_bad_input([&] { kind = parse_scope(cls); }, &code, &message, cls),
             "class rejected as a scope: " + message);
  FUZZ_CHECK(kind == ScopeKind::kClass, show_bytes(cls));
}

void check_scope(std::string_view text) {
  ErrorCode code{};
  std::string message;
  ScopeKind kind{};
  const bool ok = returns_or_bad_input([&] { kind = parse_scope(text); }, &code, &message, text);
  const bool is_key = ref_is_key(text), is_class = ref_is_class(text);
  FUZZ_CHECK(ok == (is_key || is_class), "parse_scope " +
                                             std::string(ok ? "accepted " : "rejected ") +
                                             show_bytes(text) + (ok ? "" : ": " + message));
  if (ok) {
    FUZZ_CHECK(kind == (is_key ? ScopeKind::kKey : ScopeKind::kClass), show_bytes(text));
    return;
  }
  FUZZ_CHECK(code == ErrorCode::kInvalidParameter, message);
  const std::string prefix = "invalid scope " + quote_for_message(text) + ": ";
  FUZZ_CHECK(message.compare(0, prefix.size(), as_what(prefix)) == 0, message);
  check_message(message, text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  check_quote(input);

  const std::optional<std::string> problem = key_problem(input);
  const bool ref_valid = ref_is_key(input);
  FUZZ_CHECK(problem.has_value() != ref_valid,
             "key_problem says " + (problem ? *problem : std::string("valid")) +
                 ", reference says " + (ref_valid ? "valid" : "invalid") + ": " +
                 show_bytes(input));
  if (problem) check_message(*problem, input);

  ErrorCode code{};
  std::string message;
  const bool ok =
      returns_or_bad_input([&] { validate_key(input, "key 3"); }, &code, &message, input);
  FUZZ_CHECK(ok == !problem.has_value(), show_bytes(input));
  if (!ok) {
    FUZZ_CHECK(code == ErrorCode::kInvalidParameter, message);
    FUZZ_CHECK(message == as_what("invalid key 3 " + quote_for_message(input) + ": " + *problem),
               message);
    check_message(message, input);
  }

  check_scope(input);
  if (!problem) check_class_of(input);
  return 0;
}
