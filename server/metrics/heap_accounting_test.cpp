#include "metrics/heap_accounting.hpp"

#include "metrics/allocation_charge.hpp"
#include "metrics/counters.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

namespace memgate::metrics {
namespace {

std::int64_t live() { return total(counter::live_heap_bytes); }

// Keeps the compiler from eliding a new/delete pair, which C++ allows.
char* volatile escape;

TEST(HeapAccounting, NewAndDeleteMoveLiveHeap) {
  const auto before = live();
  const auto allocations = total(counter::allocations);
  const auto allocated_bytes = total(counter::allocated_bytes);
  escape = new char[1 << 20];
  const auto during = live();
  const auto allocated = total(counter::allocations);
  delete[] escape;
  EXPECT_GE(during - before, 1 << 20);
  EXPECT_GT(allocated, allocations);
  EXPECT_GE(total(counter::allocated_bytes) - allocated_bytes, 1 << 20);  // cumulative: the free does not undo it
  EXPECT_EQ(live(), before);
}

TEST(HeapAccounting, FreeOnAnotherThreadStillBalances) {
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

TEST(HeapAccounting, AlignedNewIsCounted) {
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

TEST(HeapAccounting, AllocationsAreChargedToTheProtocolInScopeAndScopesNest) {
  const auto h1 = total(counter::h1_allocations), h2 = total(counter::h2_allocations);
  const auto h1_bytes = total(counter::h1_allocated_bytes);
  EXPECT_EQ(charged_protocol(), protocol::none);
  {
    const allocations_of outer(protocol::h1);
    escape = new char[1000];
    delete[] escape;
    {
      const allocations_of inner(protocol::h2);
      EXPECT_EQ(charged_protocol(), protocol::h2);
      escape = new char[10];
      delete[] escape;
    }
    EXPECT_EQ(charged_protocol(), protocol::h1);
  }
  EXPECT_EQ(charged_protocol(), protocol::none);
  escape = new char[10];  // outside every scope: unattributed
  delete[] escape;
  EXPECT_EQ(total(counter::h1_allocations) - h1, 1);
  EXPECT_GE(total(counter::h1_allocated_bytes) - h1_bytes, 1000);
  EXPECT_EQ(total(counter::h2_allocations) - h2, 1);
}

}  // namespace
}  // namespace memgate::metrics
