// UTF-8 well-formedness, for text that crosses into JSON or into an error
// message. In a UTF8 database PostgreSQL has checked every text already; in
// a SQL_ASCII database any bytes arrive, and the JSON library (and the
// clients reading our messages) refuse what is not UTF-8.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace allot {

// Length of the well-formed UTF-8 sequence starting at text[i] (1..4), with
// its code point in *code_point; 0 when the bytes there are not one (a stray
// continuation byte, a truncated sequence, an overlong form, a surrogate, a
// code point above U+10FFFF).
std::size_t utf8_sequence_at(std::string_view text, std::size_t i, std::uint32_t* code_point);

// Offset of the first byte that is not part of a well-formed sequence, or
// nullopt when all of text is UTF-8.
std::optional<std::size_t> invalid_utf8_at(std::string_view text);

// text with every byte outside a well-formed sequence written as \xNN, so
// that a message quoting hostile bytes is still UTF-8 and shows them.
std::string escape_invalid_utf8(std::string_view text);

// Throws BadInput (SQLSTATE 22021) naming `what` and the first bad byte
// when text is not UTF-8.
void require_utf8(std::string_view text, std::string_view what);

}  // namespace allot
