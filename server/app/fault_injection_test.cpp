#include "app/fault_injection.hpp"

#include "metrics/counters.hpp"
#include "app/pattern.hpp"

#include <gtest/gtest.h>

namespace memgate::app {
namespace {

using metrics::counter;

TEST(FaultInjection, LeaksCountTheSameThroughNewAndMalloc) {
  for (const auto via : {leak_via::new_operator, leak_via::malloc}) {
    const auto before = metrics::total(counter::leaked_bytes);
    leak_heap_bytes(24, via);
    EXPECT_EQ(metrics::total(counter::leaked_bytes) - before, 24) << to_string(via);
  }
}

TEST(FaultInjection, CopyCountsEveryByteAcrossPatternSlices) {
  const auto before = metrics::total(counter::bytes_copied);
  copy_body_bytes(max_pattern_slice + 7);
  copy_body_bytes(0);
  EXPECT_EQ(metrics::total(counter::bytes_copied) - before, static_cast<std::int64_t>(max_pattern_slice + 7));
}

}  // namespace
}  // namespace memgate::app
