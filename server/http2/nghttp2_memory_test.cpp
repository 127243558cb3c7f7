#include "http2/nghttp2_memory.hpp"

#include "pool/free_lists.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <thread>

namespace memgate::http2 {
namespace {

// On a thread of its own, whose free lists start empty.
TEST(Nghttp2Memory, HandsOutTheBlockTheLastFreeOfItsSizeLeft) {
  std::thread([] {
    nghttp2_mem* mem = nghttp2_memory();
    void* first = mem->malloc(200, mem->mem_user_data);
    mem->free(first, mem->mem_user_data);
    EXPECT_EQ(pool::this_thread_kept_bytes(), 224u);          // with its header, in the 224 B class
    EXPECT_EQ(mem->malloc(193, mem->mem_user_data), first);  // same size class
    EXPECT_EQ(pool::this_thread_kept_bytes(), 0u);
    mem->free(mem->malloc(pool::largest_block_bytes, mem->mem_user_data), mem->mem_user_data);
    EXPECT_EQ(pool::this_thread_kept_bytes(), 0u);  // past the largest class with its header: not kept
    mem->free(first, mem->mem_user_data);
  }).join();
}

TEST(Nghttp2Memory, CallocZeroesAReusedBlockAndReallocKeepsTheBytes) {
  nghttp2_mem* mem = nghttp2_memory();
  auto* dirty = static_cast<char*>(mem->malloc(64, mem->mem_user_data));
  std::memset(dirty, 'x', 64);
  mem->free(dirty, mem->mem_user_data);
  auto* zeroed = static_cast<char*>(mem->calloc(8, 8, mem->mem_user_data));
  ASSERT_EQ(zeroed, dirty);
  EXPECT_EQ(std::string(zeroed, 64), std::string(64, '\0'));

  std::memcpy(zeroed, "nghttp2", 8);
  EXPECT_EQ(mem->realloc(zeroed, 60, mem->mem_user_data), zeroed);  // fits its class
  auto* grown = static_cast<char*>(mem->realloc(zeroed, 5000, mem->mem_user_data));
  EXPECT_STREQ(grown, "nghttp2");
  mem->free(grown, mem->mem_user_data);
}

}  // namespace
}  // namespace memgate::http2
