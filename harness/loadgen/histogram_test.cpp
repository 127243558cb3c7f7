#include "histogram.hpp"

#include <cmath>

#include <gtest/gtest.h>

namespace memgate::loadgen {
namespace {

TEST(Histogram, BucketsAreContiguousAndTight) {
  for (std::size_t i = 0; i + 1 < histogram::bucket_of(std::uint64_t{1} << 40); ++i) {
    ASSERT_EQ(histogram::bucket_high(i) + 1, histogram::bucket_low(i + 1)) << "bucket " << i;
    ASSERT_EQ(histogram::bucket_of(histogram::bucket_low(i)), i);
    ASSERT_EQ(histogram::bucket_of(histogram::bucket_high(i)), i);
    const auto low = histogram::bucket_low(i);
    const auto width = histogram::bucket_high(i) - low + 1;
    if (low >= 256) {
      ASSERT_LE(static_cast<double>(width) / static_cast<double>(low), 1.0 / 128.0 + 1e-12);
    }
  }
}

TEST(Histogram, EmptyIsZero) {
  histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(0.5), 0.0);
  EXPECT_EQ(h.mean(), 0.0);
}

TEST(Histogram, UniformDistributionPercentiles) {
  histogram h;
  for (std::uint64_t v = 1; v <= 1'000'000; ++v) h.record(v);
  EXPECT_EQ(h.count(), 1'000'000u);
  EXPECT_EQ(h.max(), 1'000'000u);
  EXPECT_NEAR(h.mean(), 500'000.5, 1e-6);
  for (const double q : {0.5, 0.9, 0.99, 0.999}) {
    const double expected = q * 1'000'000;
    EXPECT_NEAR(h.percentile(q), expected, expected / 128.0) << "q=" << q;
  }
  EXPECT_EQ(h.percentile(1.0), 1'000'000.0);
}

TEST(Histogram, SkewedDistributionFindsTheTail) {
  histogram h;
  for (int i = 0; i < 990; ++i) h.record(100'000);     // 100 us
  for (int i = 0; i < 10; ++i) h.record(50'000'000);   // 50 ms tail: the top 1 %
  EXPECT_NEAR(h.percentile(0.5), 100'000, 100'000 / 128.0);
  EXPECT_NEAR(h.percentile(0.99), 100'000, 100'000 / 128.0);
  EXPECT_NEAR(h.percentile(0.995), 50'000'000, 50'000'000 / 128.0);
}

TEST(Histogram, MergeEqualsRecordingEverything) {
  histogram a, b, all;
  for (std::uint64_t v = 0; v < 5000; ++v) {
    (v % 2 ? a : b).record(v * 37);
    all.record(v * 37);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.max(), all.max());
  EXPECT_EQ(a.min(), all.min());
  for (const double q : {0.1, 0.5, 0.9, 0.999}) EXPECT_EQ(a.percentile(q), all.percentile(q));
}

TEST(Histogram, HugeValuesClampIntoTheLastBucket) {
  histogram h;
  h.record(UINT64_MAX);
  EXPECT_EQ(h.count(), 1u);
  EXPECT_EQ(h.max(), UINT64_MAX);
}

}  // namespace
}  // namespace memgate::loadgen
