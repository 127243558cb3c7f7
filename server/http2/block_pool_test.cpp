#include "http2/block_pool.hpp"
#include "http2/object_pool.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace memgate::http2 {
namespace {

TEST(BlockPool, HandsOutTheBlockTheLastFreeOfItsSizeLeft) {
  block_pool pool;
  nghttp2_mem* mem = pool.mem();
  void* first = mem->malloc(200, mem->mem_user_data);
  mem->free(first, mem->mem_user_data);
  EXPECT_EQ(pool.kept_bytes(), 224u);
  EXPECT_EQ(mem->malloc(193, mem->mem_user_data), first);  // same size class
  EXPECT_EQ(pool.kept_bytes(), 0u);
  mem->free(first, mem->mem_user_data);
}

TEST(BlockPool, KeepsNoMoreThanItsBound) {
  block_pool pool;
  nghttp2_mem* mem = pool.mem();
  std::vector<void*> blocks;
  for (std::size_t i = 0; i < 2 * block_pool::max_kept_bytes / 1024; ++i) {
    blocks.push_back(mem->malloc(1024, mem->mem_user_data));
  }
  void* large = mem->malloc(block_pool::max_pooled_bytes + 1, mem->mem_user_data);
  for (void* block : blocks) mem->free(block, mem->mem_user_data);
  mem->free(large, mem->mem_user_data);  // above the largest class: back to malloc
  EXPECT_EQ(pool.kept_bytes(), block_pool::max_kept_bytes);
}

TEST(BlockPool, CallocZeroesAReusedBlockAndReallocKeepsTheBytes) {
  block_pool pool;
  nghttp2_mem* mem = pool.mem();
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

struct counted {
  explicit counted(int& alive) : alive_(alive) { ++alive_; }
  ~counted() { --alive_; }
  int& alive_;
  std::string text = "made";
};

TEST(ObjectPool, MakesAnewInTheBlockLeftAndDestroysOnRelease) {
  int alive = 0;
  object_pool<counted, 1> pool;
  auto first = pool.make(alive);
  const counted* block = first.get();
  first->text = "changed";
  first.reset();
  EXPECT_EQ(alive, 0);
  EXPECT_EQ(pool.kept(), 1u);
  auto second = pool.make(alive);
  EXPECT_EQ(second.get(), block);
  EXPECT_EQ(second->text, "made");  // constructed again, not handed back as it was left
  auto third = pool.make(alive);
  second.reset();
  third.reset();
  EXPECT_EQ(pool.kept(), 1u);  // the second free block went back to the heap
  EXPECT_EQ(alive, 0);
}

}  // namespace
}  // namespace memgate::http2
