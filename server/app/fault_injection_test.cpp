#include "app/fault_injection.hpp"

#include "metrics/counters.hpp"
#include "metrics/live_heap.hpp"
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

TEST(FaultInjection, AHeldBlockIsLiveWhileHeldAndFreedWithItsOwner) {
  constexpr std::size_t held = 1 << 20;
  for (const auto via : {leak_via::new_operator, leak_via::malloc}) {
    const auto before = metrics::read_live_heap().live_bytes;
    {
      held_block block(held, via);
      EXPECT_FALSE(block.empty());
      EXPECT_GE(metrics::read_live_heap().live_bytes - before, static_cast<std::int64_t>(held)) << to_string(via);
      held_block moved(std::move(block));  // a request's sink moves into place: still one block
      EXPECT_GE(metrics::read_live_heap().live_bytes - before, static_cast<std::int64_t>(held)) << to_string(via);
      EXPECT_LT(metrics::read_live_heap().live_bytes - before, static_cast<std::int64_t>(2 * held)) << to_string(via);
    }
    EXPECT_LT(metrics::read_live_heap().live_bytes - before, 4096) << to_string(via);
  }
  EXPECT_TRUE(held_block(0, leak_via::malloc).empty());  // off: nothing allocated
}

route at(endpoint kind) { return route{.kind = kind}; }

// Leaked bytes from one connection's life: the routes it serves, then its close.
std::int64_t leaked_by_connection(const server_config& config, std::initializer_list<endpoint> served) {
  const auto before = metrics::total(counter::leaked_bytes);
  {
    connection_faults faults(config);
    for (const auto kind : served) faults.on_request_started(at(kind));
  }
  return metrics::total(counter::leaked_bytes) - before;
}

TEST(FaultInjection, APerConnectionLeakChargesOnlyConnectionsThatServedLoad) {
  server_config config;
  config.inject_leak_per_connection_bytes = 1000;
  EXPECT_EQ(leaked_by_connection(config, {endpoint::mem}), 0);  // the driver's own /mem poll
  EXPECT_EQ(leaked_by_connection(config, {endpoint::healthz, endpoint::mem}), 0);
  EXPECT_EQ(leaked_by_connection(config, {endpoint::mem, endpoint::bytes, endpoint::bytes}), 1000);
  EXPECT_EQ(leaked_by_connection(config, {endpoint::upload}), 1000);
  EXPECT_EQ(leaked_by_connection(config, {}), 0);  // a spare connection that found no request left
}

TEST(FaultInjection, PerRequestFaultsFireOnMeasuredRequestsOnly) {
  server_config config;
  config.inject_leak_bytes = 24;
  config.inject_copy_bytes = 100;
  const auto copied = metrics::total(counter::bytes_copied);
  EXPECT_EQ(leaked_by_connection(config, {endpoint::mem, endpoint::json, endpoint::healthz, endpoint::stream}), 48);
  EXPECT_EQ(metrics::total(counter::bytes_copied) - copied, 200);
}

}  // namespace
}  // namespace memgate::app
