// The run's outcome and its one-object JSON rendering (computed apart from printing).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "body_digest.hpp"
#include "options.hpp"
#include "stats.hpp"

namespace memgate::loadgen {

// --verify digest: what one URL's 2xx bodies were held to, and the first that differed.
struct url_digest {
  std::string target;
  std::optional<body_digest> reference;  // none when no 2xx body completed
  std::optional<body_digest> first_mismatch;
  std::uint64_t mismatches = 0;
};

struct run_report {
  options opts;
  run_stats stats;
  double elapsed_s = 0;
  double requests_s = 0;  // start to the last request's outcome: what the rates divide by
  double held_s = 0;  // --hold: from the HOLDING line to the release
  std::vector<url_digest> digests;  // --verify digest: one per URL, in --url order
};

boost::json::object to_json(const run_report& r);

// 0: every planned request OK; 1: failures or time limit hit.
int exit_code(const run_report& r) noexcept;

}  // namespace memgate::loadgen
