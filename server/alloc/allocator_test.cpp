// The allocator seam, compiled once per allocator (MEMGATE_EXPECTED_ALLOCATOR).
#include "alloc/allocator.hpp"

#include "metrics/live_heap.hpp"
#include "metrics/proc_memory.hpp"

#include <gtest/gtest.h>

#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

namespace memgate::alloc {
namespace {

TEST(Allocator, NameAndVersion) {
  EXPECT_EQ(name(), MEMGATE_EXPECTED_ALLOCATOR);
  EXPECT_FALSE(version().empty());
  EXPECT_NE(version(), "unknown");
}

TEST(Allocator, NativeStatsAreNumbers) {
  const auto stats = native_stats();
  ASSERT_FALSE(stats.empty());
  for (const auto& [key, value] : stats) EXPECT_TRUE(value.is_number()) << key;
}

// Keeps the compiler from eliding an allocation and its free, which C and C++ allow.
void* volatile escape;

// Live heap counts through the executable's interposed malloc family and operators, forwarded to
// this allocator: a plain malloc, strdup or realloc counts like a new, at this allocator's usable size.
TEST(Allocator, LiveHeapCountsEveryWayOfAllocatingAtThisAllocatorsUsableSize) {
  const auto size = [](void* block) { return static_cast<std::int64_t>(malloc_usable_size(block)); };
  const auto before = metrics::read_live_heap();
  void* by_malloc = std::malloc(100);
  char* by_strdup = strdup("kept");
  void* by_realloc = std::realloc(std::malloc(8), 3000);
  char* by_new = new char[1000];
  escape = by_malloc;
  escape = by_strdup;
  escape = by_realloc;
  escape = by_new;
  const auto during = metrics::read_live_heap();
  EXPECT_EQ(during.live_bytes - before.live_bytes, size(by_malloc) + size(by_strdup) + size(by_realloc) + size(by_new));
#if defined(MEMGATE_SANITIZER_OWNS_MALLOC)
  EXPECT_EQ(during.allocations - before.allocations, 5);  // the sanitizer's hooks see a realloc as a new block
#else
  EXPECT_EQ(during.allocations - before.allocations, 4);  // the realloc resizes one of them
#endif
  std::free(by_malloc);
  std::free(by_strdup);
  std::free(by_realloc);
  delete[] by_new;
  EXPECT_EQ(metrics::read_live_heap().live_bytes, before.live_bytes);
}

// Memory freed on a worker thread comes back to the OS only after the trim runs
// on that thread and process-wide: the sequence /mem runs.
TEST(Allocator, TrimReturnsFreedMemoryToTheOs) {
#if defined(MEMGATE_SANITIZER_OWNS_MALLOC)
  GTEST_SKIP() << "the sanitizer's allocator replaces ours (ASan also keeps freed memory in quarantine)";
#endif
  constexpr std::size_t block = 32 * 1024;  // small enough for every allocator's arenas/pages
  constexpr std::size_t count = (128 << 20) / block;
  std::int64_t peak = 0;
  std::thread worker([&] {
    std::vector<std::unique_ptr<char[]>> blocks;
    for (std::size_t i = 0; i < count; ++i) {
      blocks.emplace_back(new char[block]);
      std::memset(blocks.back().get(), 1, block);
    }
    peak = metrics::read_resident_memory().rss_bytes;
    blocks.clear();
    trim_this_thread();
  });
  worker.join();
  trim_process();
  const auto after = metrics::read_resident_memory().rss_bytes;
  EXPECT_LT(after, peak - (64 << 20)) << "peak " << peak << " after trim " << after;
}

}  // namespace
}  // namespace memgate::alloc
