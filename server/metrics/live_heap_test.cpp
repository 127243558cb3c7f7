// The counting core as linked into a server binary: every way a block is made or freed moves live
// heap, at the allocator's usable size.
#include "metrics/live_heap.hpp"

#include "metrics/allocation_charge.hpp"

#include <gtest/gtest.h>

#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

namespace memgate::metrics {
namespace {

std::int64_t live() { return read_live_heap().live_bytes; }

// Under a sanitizer, its own usable size: the size asked for.
std::int64_t usable(void* block) { return static_cast<std::int64_t>(malloc_usable_size(block)); }

// Keeps the compiler from eliding an allocation and its free, which C and C++ allow.
void* volatile escape;

// Every test binary links the counting core (the stand-in that counts nothing is refserver-glibc-uncounted's).
TEST(LiveHeap, TheLinkedCoreCounts) { EXPECT_TRUE(allocations_counted()); }

TEST(LiveHeap, NewAndDeleteMoveLiveHeap) {
  const auto before = read_live_heap();
  auto* block = new char[1 << 20];
  escape = block;
  const auto during = read_live_heap();
  delete[] block;
  const auto after = read_live_heap();
  EXPECT_GE(during.live_bytes - before.live_bytes, 1 << 20);
  EXPECT_GT(during.allocations, before.allocations);
  EXPECT_GE(after.allocated_bytes - before.allocated_bytes, 1 << 20);  // cumulative: the free does not undo it
  EXPECT_GT(after.deallocations, before.deallocations);
  EXPECT_EQ(after.live_bytes, before.live_bytes);
}

// What the operator new hooks refserver had before could not see: a leak through libc.
TEST(LiveHeap, PlainMallocStrdupAndReallocLeaksShowAtUsableSize) {
  const auto before = live();
  void* by_malloc = std::malloc(1000);
  char* by_strdup = strdup("a string the server keeps by mistake");
  void* grown = std::realloc(std::malloc(16), 5000);
  escape = by_malloc;
  escape = by_strdup;
  escape = grown;
  const auto leaked = usable(by_malloc) + usable(by_strdup) + usable(grown);
  EXPECT_GE(leaked, 1000 + 37 + 5000);
  EXPECT_EQ(live() - before, leaked);
  std::free(by_malloc);
  std::free(by_strdup);
  std::free(grown);
  EXPECT_EQ(live(), before);
}

// Under glibc the core reads a block's usable size from its chunk header (harness/heapshim/heapshim.c):
// it must be malloc_usable_size's figure for arena and mmapped blocks, plain and aligned.
TEST(LiveHeap, BlocksOfEveryKindCountAtMallocUsableSize) {
#if defined(__SANITIZE_THREAD__)  // gcc's TSan build
  // Its runtime calls no malloc hook for aligned blocks, only the free hook (see InjectedLeakShowsInLiveHeap).
  constexpr bool aligned_blocks_counted = false;
#else
  constexpr bool aligned_blocks_counted = true;
#endif
  for (const std::size_t size : {std::size_t{1}, std::size_t{24}, std::size_t{1000}, std::size_t{70000},
                                 std::size_t{200000}, std::size_t{64} << 20}) {
    for (const std::size_t alignment : {std::size_t{0}, std::size_t{64}, std::size_t{1} << 16}) {
      if (alignment != 0 && !aligned_blocks_counted) continue;
      const auto before = live();
      void* block = nullptr;
      if (alignment == 0) {
        block = std::malloc(size);
      } else {
        ASSERT_EQ(posix_memalign(&block, alignment, size), 0);
      }
      ASSERT_NE(block, nullptr);
      escape = block;
      EXPECT_EQ(live() - before, usable(block)) << size << " bytes aligned to " << alignment;
      std::free(block);
      EXPECT_EQ(live(), before) << size << " bytes aligned to " << alignment;
    }
  }
}

TEST(LiveHeap, CallocIsCounted) {
  const auto before = live();
  void* zeroed = std::calloc(100, 30);
  EXPECT_EQ(live() - before, usable(zeroed));
  EXPECT_GE(live() - before, 3000);
  std::free(zeroed);
  EXPECT_EQ(live(), before);
}

TEST(LiveHeap, AlignedAllocAndPosixMemalignAreCounted) {
#if defined(__SANITIZE_THREAD__)  // gcc's TSan build
  GTEST_SKIP() << "the sanitizer feeds the count through its hooks, which gcc's TSan runtime does not call "
                  "for aligned_alloc and posix_memalign";
#endif
  const auto before = live();
  void* aligned = std::aligned_alloc(4096, 8192);
  void* by_posix = nullptr;
  ASSERT_EQ(posix_memalign(&by_posix, 64, 700), 0);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(aligned) % 4096, 0u);
  EXPECT_EQ(live() - before, usable(aligned) + usable(by_posix));
  EXPECT_GE(live() - before, 8192 + 700);
  std::free(aligned);
  std::free(by_posix);
  EXPECT_EQ(live(), before);
}

TEST(LiveHeap, FreeOnAnotherThreadStillBalances) {
  // libc's own blocks for a thread (its TLS vector) stay with the stack glibc caches for the next
  // thread: one thread first, so the measured one reuses them.
  std::thread([] {}).join();
  const auto before = live();
  std::int64_t during = 0;
  {
    std::vector<std::unique_ptr<int[]>> blocks;
    std::thread producer([&] {
      for (int i = 0; i < 1000; ++i) blocks.emplace_back(new int[100]);
    });
    producer.join();
    during = live();
  }  // freed here, on this thread
  EXPECT_GE(during - before, 1000 * 400);
  EXPECT_EQ(live(), before);
}

TEST(LiveHeap, AlignedNewIsCounted) {
  struct alignas(256) wide {
    char bytes[512];
  };
  static wide* volatile escape_wide;  // clang elides an aligned new/delete pair otherwise
  const auto before = live();
  escape_wide = new wide;
  const auto during = live();
  const auto address = reinterpret_cast<std::uintptr_t>(escape_wide);
  delete escape_wide;
  EXPECT_EQ(address % 256, 0u);
  EXPECT_GE(during - before, 512);
  EXPECT_EQ(live(), before);
}

TEST(LiveHeap, AllocationsAreChargedToTheProtocolInScopeAndScopesNest) {
  const auto before = read_live_heap();
  EXPECT_EQ(charged_protocol(), protocol::none);
  {
    const allocations_of outer(protocol::h1);
    escape = new char[1000];
    delete[] static_cast<char*>(escape);
    {
      const allocations_of inner(protocol::h2);
      EXPECT_EQ(charged_protocol(), protocol::h2);
      escape = std::malloc(10);  // malloc is charged like new
      std::free(escape);
    }
    EXPECT_EQ(charged_protocol(), protocol::h1);
  }
  EXPECT_EQ(charged_protocol(), protocol::none);
  escape = new char[10];  // outside every scope: unattributed
  delete[] static_cast<char*>(escape);
  const auto after = read_live_heap();
  EXPECT_EQ(after.h1.allocations - before.h1.allocations, 1);
  EXPECT_GE(after.h1.allocated_bytes - before.h1.allocated_bytes, 1000);
  EXPECT_EQ(after.h2.allocations - before.h2.allocations, 1);
}

}  // namespace
}  // namespace memgate::metrics
