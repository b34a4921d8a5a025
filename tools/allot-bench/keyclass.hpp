// The class of a key (API.md, "Keys"): every id replaced by '*', so that
// denials can be grouped by the rule that said no ("voucher:*/user:*")
// rather than by millions of individual keys.
#pragma once

#include <string>
#include <string_view>

namespace bench {

// "voucher:V1/user:U9" -> "voucher:*/user:*". A segment without ':' is kept
// as it is: the server never returns one, and the report should show odd
// input rather than hide it.
std::string key_class(std::string_view key);

}  // namespace bench
