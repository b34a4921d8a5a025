// The detail of a grant event, built as jsonb directly.
//
// Every grant stores where each of its checks was counted (the rollup
// folds fast-path ones from it, reverse() gives units back by it). Written
// as JSON text and cast to jsonb, that was two detours per grant: building
// and printing a JSON tree, then PostgreSQL parsing the text again (about
// 8% of a batch of redemptions). Here the jsonb value is assembled with
// PostgreSQL's own JsonbValue API, from plain structs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "postgres.hpp"

namespace allot::pg {

// [key, limit_id, window_start] or, counted on a meter, [..., "f"].
struct CountedCheck {
  std::string key;
  std::int64_t limit_id;
  std::string window_start;  // format_timestamp()
  bool on_meter;
};

// {"key", "limit_id", "used", "max"}: a shadow limit that would have denied.
struct ShadowDenial {
  std::string key;
  std::int64_t limit_id;
  std::int64_t used;
  std::int64_t max;
};

// {"counted": [...]} and, when there are any, "shadow_denied": [...].
Datum grant_detail_jsonb(const std::vector<CountedCheck>& counted,
                         const std::vector<ShadowDenial>& shadow);

}  // namespace allot::pg
