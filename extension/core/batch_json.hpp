// Parses the JSON text of allot.redeem_many:
//   [{"txn": "<uuid>", "keys": ["kind:id", ...], "amount": 1}, ...]
// A malformed whole (not JSON, not an array, more than kMaxBatchItems items)
// throws BadInput. A malformed item does not: it comes back with `error`
// set, so the other items are still decided. That includes an item whose
// syntax is sound but whose content the JSON library refuses (a number
// beyond the range of a double, a string that is not UTF-8): the batch's
// JSON is valid for PostgreSQL, so it is one bad item among good ones.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "request.hpp"

namespace allot {

struct BatchItem {
  std::optional<Request> request;  // set when the item is well-formed
  std::string error;               // set when it is not
};

std::vector<BatchItem> parse_batch(std::string_view json_text);

}  // namespace allot
