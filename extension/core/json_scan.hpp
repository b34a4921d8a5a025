// The syntax of JSON text, read without judging its content: numbers of any
// size, strings holding any bytes. allot.redeem_many uses it to find the
// items of a batch that the JSON library refuses as a whole (a number
// beyond the range of a double, text that is not UTF-8 in a SQL_ASCII
// database), so that such an item is refused on its own row like any other
// bad item. Iterative: nesting depth costs no stack.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace allot::json_scan {

constexpr std::size_t kInvalid = std::string_view::npos;

// Offset just past the JSON value that starts at text[pos] (after optional
// whitespace), or kInvalid when there is none there.
std::size_t skip_value(std::string_view text, std::size_t pos);

// Offset of the first byte at or after pos that is not JSON whitespace.
std::size_t skip_whitespace(std::string_view text, std::size_t pos);

// The whole of text as one JSON value, without surrounding whitespace (and
// without a leading byte order mark, which the JSON library skips too);
// nullopt when text is not exactly one JSON value.
std::optional<std::string_view> whole_value(std::string_view text);

// The elements of `value`, a JSON array as whole_value() returns it, or
// nullopt when it is not an array.
std::optional<std::vector<std::string_view>> array_elements(std::string_view value);

// The members of `value`, a JSON object, or nullopt when it is not one.
// `name` is the string token of the member's name, quotes included.
struct Member {
  std::string_view name;
  std::string_view value;
};
std::optional<std::vector<Member>> object_members(std::string_view value);

// The bytes a JSON string token (quotes included) stands for: escapes
// decoded (a \u escape of a lone surrogate becomes the 3 bytes that are not
// UTF-8), every other byte as it is.
std::string string_bytes(std::string_view token);

}  // namespace allot::json_scan
