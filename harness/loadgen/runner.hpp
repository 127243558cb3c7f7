// Runs a whole load: resolves the target, starts one worker per thread, prints progress.
#pragma once

#include <ostream>

#include "options.hpp"
#include "report.hpp"

namespace memgate::loadgen {

// Blocks until all requests are done or the time limit hits. Progress lines go to
// `progress` every opts.progress_ms when both are set.
run_report run_load(const options& opts, std::ostream* progress = nullptr);

}  // namespace memgate::loadgen
