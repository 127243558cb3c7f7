// The run's outcome and its one-object JSON rendering (computed apart from printing).
#pragma once

#include <string>

#include <boost/json/object.hpp>

#include "options.hpp"
#include "stats.hpp"

namespace memgate::loadgen {

struct run_report {
  options opts;
  run_stats stats;
  double elapsed_s = 0;
  double requests_s = 0;  // start to the last request's outcome: what the rates divide by
  double held_s = 0;  // --hold: from the HOLDING line to the release
};

boost::json::object to_json(const run_report& r);

// 0: every planned request OK; 1: failures or time limit hit.
int exit_code(const run_report& r) noexcept;

}  // namespace memgate::loadgen
