// Runs a whole load: resolves the target, starts one worker per thread, prints progress.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>

#include "options.hpp"
#include "report.hpp"

namespace memgate::loadgen {

// How a --hold run tells that its connections are held and learns when to let go.
struct hold_control {
  // Called once (on run_load's thread) when every request is done, with the connections
  // then open; the held connections are closed after it returns and `release_fd` reaches EOF.
  std::function<void(std::uint64_t open_connections)> on_holding;
  int release_fd = 0;  // stdin
};

// Blocks until all requests are done (and, with --hold, released) or the time limit hits.
// Progress lines go to `progress` every opts.progress_ms when both are set.
run_report run_load(const options& opts, std::ostream* progress = nullptr, const hold_control& hold = {});

}  // namespace memgate::loadgen
