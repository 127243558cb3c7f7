// Latency histogram with HDR-style log-linear buckets: 2^sub_bits linear sub-buckets per
// power of two, so every recorded value is known within 1/2^(sub_bits-1) relative error.
// Memory is fixed (no vector of samples); histograms of several threads merge by addition.
#pragma once

#include <array>
#include <cstdint>

namespace memgate::loadgen {

class histogram {
 public:
  static constexpr unsigned sub_bits = 8;       // 128 sub-buckets per octave: <= 0.8 % error
  static constexpr unsigned max_value_bits = 44;  // values up to 2^44 (ns: ~4.9 h) are bucketed

  void record(std::uint64_t value) noexcept;
  void merge(const histogram& other) noexcept;

  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t max() const noexcept { return max_; }
  std::uint64_t min() const noexcept { return count_ ? min_ : 0; }
  double mean() const noexcept { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }

  // The value at quantile q in [0, 1]: the midpoint of the bucket holding the ceil(q*count)-th
  // smallest value, clamped to [min, max]. 0 when empty.
  double percentile(double q) const noexcept;

  // Bucket arithmetic, exposed for tests.
  static std::size_t bucket_of(std::uint64_t value) noexcept;
  static std::uint64_t bucket_low(std::size_t index) noexcept;
  static std::uint64_t bucket_high(std::size_t index) noexcept;  // inclusive

 private:
  static constexpr std::size_t half = std::size_t{1} << (sub_bits - 1);
  static constexpr std::size_t bucket_count = (max_value_bits - sub_bits + 2) * half;

  std::array<std::uint64_t, bucket_count> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
};

}  // namespace memgate::loadgen
