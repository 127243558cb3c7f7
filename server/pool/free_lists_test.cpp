#include "pool/free_lists.hpp"

#include "metrics/live_heap.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace memgate::pool {
namespace {

// Each test runs on a thread of its own, whose lists start empty.
template <typename Body>
void on_fresh_thread(Body body) {
  std::thread(body).join();
}

TEST(FreeLists, HandsOutTheBlockTheLastGiveBackOfItsSizeLeft) {
  on_fresh_thread([] {
    void* first = take(200);
    give_back(first, 200);
    EXPECT_EQ(this_thread_kept_bytes(), 208u);  // 200 B rounded up to its class
    EXPECT_EQ(take(193), first);                // the same class
    EXPECT_EQ(this_thread_kept_bytes(), 0u);
    give_back(first, 193);
  });
}

TEST(FreeLists, KeepsNoMoreThanTheThreadsBound) {
  on_fresh_thread([] {
    std::vector<void*> blocks;
    for (std::size_t i = 0; i < 2 * kept_bytes_per_thread_max / 1024; ++i) blocks.push_back(take(1024));
    for (void* block : blocks) give_back(block, 1024);
    EXPECT_EQ(this_thread_kept_bytes(), kept_bytes_per_thread_max);
  });
}

TEST(FreeLists, ABlockGivenBackOnAnotherThreadJoinsThatThreadsLists) {
  void* block = nullptr;
  on_fresh_thread([&] { block = take(512); });
  on_fresh_thread([&] {
    give_back(block, 512);
    EXPECT_EQ(this_thread_kept_bytes(), 512u);
    EXPECT_EQ(take(512), block);
    give_back(block, 512);
  });
}

// A block of every 64th size up to the largest, taken and given back: the lists keep them all.
void keep_a_block_of_every_size(std::vector<void*>& blocks) {
  for (std::size_t bytes = 64; bytes <= largest_block_bytes; bytes += 64) blocks.push_back(take(bytes));
  for (std::size_t i = 0; i < blocks.size(); ++i) give_back(blocks[i], 64 * (i + 1));
}

TEST(FreeLists, AThreadsListsAreFreedWhenItExits) {
  on_fresh_thread([] {});  // the first thread's own blocks (a cached stack's TLS) stay with libc
  const auto live = metrics::read_live_heap().live_bytes;
  on_fresh_thread([] {
    std::vector<void*> blocks;
    keep_a_block_of_every_size(blocks);
    EXPECT_GT(this_thread_kept_bytes(), 0u);
  });
  EXPECT_EQ(metrics::read_live_heap().live_bytes - live, 0);
}

TEST(FreeLists, TheForcedTrimsReleaseFreesEveryKeptBlock) {
  on_fresh_thread([] {
    std::vector<void*> blocks;
    blocks.reserve(largest_block_bytes / 64);
    give_back(take(64), 64);  // the thread's lists exist (their exit hook is registered) before the count
    release_this_thread();
    const auto live = metrics::read_live_heap().live_bytes;
    keep_a_block_of_every_size(blocks);
    EXPECT_GT(metrics::read_live_heap().live_bytes - live, 0);
    release_this_thread();
    EXPECT_EQ(this_thread_kept_bytes(), 0u);
    EXPECT_EQ(metrics::read_live_heap().live_bytes - live, 0);
    void* again = take(200);  // the lists work on after a release
    give_back(again, 200);
    EXPECT_EQ(this_thread_kept_bytes(), 208u);
  });
}

struct counted {
  explicit counted(int& alive) : alive_(alive) { ++alive_; }
  ~counted() { --alive_; }
  int& alive_;
  std::string text = "made";
};

TEST(FreeLists, AnObjectIsMadeAnewInTheBlockTheLastOneLeft) {
  on_fresh_thread([] {
    int alive = 0;
    auto first = make<counted>(alive);
    const counted* block = first.get();
    first->text = "changed";
    first.reset();
    EXPECT_EQ(alive, 0);
    EXPECT_EQ(this_thread_kept_bytes(), block_capacity(sizeof(counted)));
    auto second = make<counted>(alive);
    EXPECT_EQ(second.get(), block);
    EXPECT_EQ(second->text, "made");  // constructed again, not handed back as it was left
    second.reset();
    EXPECT_EQ(alive, 0);
  });
}

}  // namespace
}  // namespace memgate::pool
