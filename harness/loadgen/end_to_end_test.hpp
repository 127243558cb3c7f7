// Helpers shared by the end-to-end tests (runner_*_test.cpp): argv in, run_load() against
// the in-process servers of test_servers.hpp.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "options.hpp"
#include "report.hpp"
#include "test_servers.hpp"

namespace memgate::loadgen {

using testing_servers = std::unique_ptr<testing::test_server>;

inline options parse_ok(std::vector<std::string> args) {
  args.insert(args.begin(), "loadgen");
  auto r = parse_options(args);
  EXPECT_TRUE(r) << r.error().message;
  return *r;
}

inline std::string url(const testing_servers& s, const std::string& target) {
  return "http://127.0.0.1:" + std::to_string(s->port()) + target;
}

inline std::uint64_t failures_of(const run_report& r, failure f) {
  return r.stats.failures[static_cast<std::size_t>(f)];
}

}  // namespace memgate::loadgen
