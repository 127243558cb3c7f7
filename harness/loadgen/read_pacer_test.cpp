#include "read_pacer.hpp"

#include <gtest/gtest.h>

namespace memgate::loadgen {
namespace {

using std::chrono::milliseconds;

TEST(TokenBucket, CapacityIsATwentiethOfASecondWithinBounds) {
  EXPECT_EQ(token_bucket::capacity_for(1'000'000), 50'000u);
  EXPECT_EQ(token_bucket::capacity_for(10), 1u);
  EXPECT_EQ(token_bucket::capacity_for(1'000'000'000), 64u * 1024);
}

TEST(TokenBucket, RefillsAtTheRateAndCapsAtCapacity) {
  const auto t0 = clock::now();
  token_bucket b(1'000'000, t0);  // 1000 bytes per ms, capacity 50'000
  EXPECT_EQ(b.available(t0), 50'000u);
  b.spend(50'000);
  EXPECT_EQ(b.available(t0), 0u);
  EXPECT_EQ(b.full_at(), t0 + milliseconds(50));
  EXPECT_EQ(b.available(t0 + milliseconds(10)), 10'000u);
  b.spend(4'000);
  EXPECT_EQ(b.full_at(), t0 + milliseconds(10 + 44));
  EXPECT_EQ(b.available(t0 + milliseconds(20)), 16'000u);
  EXPECT_EQ(b.available(t0 + milliseconds(10'000)), 50'000u);
}

TEST(TokenBucket, ReadingAtFullBucketsNeverBeatsTheRate) {
  // The pacer's loop: wait until full, read everything available, repeat.
  auto now = clock::now();
  const auto t0 = now;
  token_bucket b(300'000, now);
  std::uint64_t read = 0;
  while (read < 3'000'000) {
    now = std::max(now, b.full_at());
    const auto n = b.available(now);
    ASSERT_EQ(n, b.capacity());
    b.spend(n);
    read += n;
  }
  const double seconds = std::chrono::duration<double>(now - t0).count();
  // The first bucket is free (full at start): 3 MB minus one bucket at 300 kB/s.
  EXPECT_NEAR(seconds, (3'000'000.0 - static_cast<double>(b.capacity())) / 300'000.0, 0.001);
}

}  // namespace
}  // namespace memgate::loadgen
