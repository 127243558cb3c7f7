#include "histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace memgate::loadgen {

std::size_t histogram::bucket_of(std::uint64_t value) noexcept {
  constexpr std::uint64_t top = (std::uint64_t{1} << max_value_bits) - 1;
  value = std::min(value, top);
  if (value < (std::uint64_t{1} << sub_bits)) return static_cast<std::size_t>(value);
  const unsigned msb = 63u - static_cast<unsigned>(std::countl_zero(value));
  const unsigned shift = msb - sub_bits + 1;  // >= 1; value >> shift lies in [half, 2*half)
  return shift * half + static_cast<std::size_t>(value >> shift);
}

std::uint64_t histogram::bucket_low(std::size_t index) noexcept {
  if (index < 2 * half) return index;
  const std::size_t shift = index / half - 1;
  const std::uint64_t mantissa = index - shift * half;
  return mantissa << shift;
}

std::uint64_t histogram::bucket_high(std::size_t index) noexcept {
  if (index < 2 * half) return index;
  const std::size_t shift = index / half - 1;
  const std::uint64_t mantissa = index - shift * half;
  return ((mantissa + 1) << shift) - 1;
}

void histogram::record(std::uint64_t value) noexcept {
  ++counts_[bucket_of(value)];
  ++count_;
  sum_ += value;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void histogram::merge(const histogram& other) noexcept {
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

double histogram::percentile(double q) const noexcept {
  if (count_ == 0) return 0.0;
  q = std::clamp(q, 0.0, 1.0);
  const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const double mid = (static_cast<double>(bucket_low(i)) + static_cast<double>(bucket_high(i))) / 2.0;
      return std::clamp(mid, static_cast<double>(min_), static_cast<double>(max_));
    }
  }
  return static_cast<double>(max_);
}

}  // namespace memgate::loadgen
