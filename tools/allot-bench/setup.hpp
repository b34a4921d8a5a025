// --setup: create the scenario's limits through the client's set_limit
// (--reset drops them first, through the monitor connection).
#pragma once

#include <string>
#include <vector>

#include <allot/client.hpp>

#include "monitor.hpp"
#include "options.hpp"

namespace bench {

// Returns one line per limit for the report ("voucher:* 200 total -> id 3").
// Throws on failure: a run against half-made limits would measure nothing.
std::vector<std::string> apply_limits(allot::Client& admin, Monitor& monitor,
                                      const Options& options);

}  // namespace bench
