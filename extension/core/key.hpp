// Entity keys: "kind:id" segments joined by '/', e.g. "voucher:V1/user:U7".
// Grammar (API.md): kind [a-z][a-z0-9_]* (<= 32 bytes); id 1..128 bytes of
// printable UTF-8 without '/' or ':'; a key <= 256 bytes, <= 4 segments.
// The class of a key replaces every id by '*': "voucher:*/user:*".
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace allot {

constexpr std::size_t kMaxKeyBytes = 256;
constexpr std::size_t kMaxKeySegments = 4;
constexpr std::size_t kMaxKindBytes = 32;
constexpr std::size_t kMaxIdBytes = 128;

// Why a text is not a valid key, or nullopt when it is one.
std::optional<std::string> key_problem(std::string_view key);

// Throws BadInput (22023) naming the problem; `what` says which argument
// ("key 3") so the message points at the culprit.
void validate_key(std::string_view key, std::string_view what = "key");

// A key or scope as quoted in an error message: bytes that are not UTF-8
// written as \xNN, at most 64 bytes of that, cut between characters, "..."
// marking a cut. (The message must name the problem, stay short, and stay
// valid UTF-8, whatever the caller sent.)
std::string quote_for_message(std::string_view text);

// The class of a valid key. Precondition: validate_key(key) passed.
std::string key_class(std::string_view key);

// A limit's scope is either one exact key or a class (every id is '*').
enum class ScopeKind { kKey, kClass };

// Throws BadInput when scope is neither a key nor a class (mixed patterns
// such as "voucher:V1/user:*" are rejected: API.md names only these two).
ScopeKind parse_scope(std::string_view scope);

}  // namespace allot
