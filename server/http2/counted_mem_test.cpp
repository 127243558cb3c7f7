#include "http2/counted_mem.hpp"

#include "metrics/counters.hpp"

#include <gtest/gtest.h>

namespace memgate::http2 {
namespace {

std::int64_t live() { return metrics::total(metrics::counter::live_heap_bytes); }

TEST(CountedMem, NghttpMemAndReallocAreCounted) {
  const auto before = live();
  nghttp2_mem* mem = counted_mem();
  void* block = mem->malloc(1000, mem->mem_user_data);
  EXPECT_GE(live() - before, 1000);
  block = mem->realloc(block, 100000, mem->mem_user_data);
  EXPECT_GE(live() - before, 100000);
  mem->free(block, mem->mem_user_data);
  EXPECT_EQ(live(), before);
}

}  // namespace
}  // namespace memgate::http2
