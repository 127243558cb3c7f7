#include "read_pacer.hpp"

#include <cmath>

namespace memgate::loadgen {

namespace {
constexpr std::size_t max_bucket_bytes = 64 * 1024;
constexpr std::uint64_t buckets_per_second = 20;
}  // namespace

std::size_t token_bucket::capacity_for(std::uint64_t bytes_per_s) noexcept {
  return static_cast<std::size_t>(std::clamp<std::uint64_t>(bytes_per_s / buckets_per_second, 1, max_bucket_bytes));
}

token_bucket::token_bucket(std::uint64_t bytes_per_s, clock::time_point now) noexcept
    : bytes_per_ns_(static_cast<double>(bytes_per_s) / 1e9),
      capacity_(capacity_for(bytes_per_s)),
      tokens_(static_cast<double>(capacity_)),
      refilled_at_(now) {}

std::size_t token_bucket::available(clock::time_point now) noexcept {
  if (now > refilled_at_) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now - refilled_at_).count();
    tokens_ = std::min(static_cast<double>(capacity_), tokens_ + static_cast<double>(ns) * bytes_per_ns_);
    refilled_at_ = now;
  }
  return static_cast<std::size_t>(tokens_);
}

void token_bucket::spend(std::size_t bytes) noexcept {
  tokens_ = std::max(0.0, tokens_ - static_cast<double>(bytes));
}

clock::time_point token_bucket::full_at() const noexcept {
  const double missing = static_cast<double>(capacity_) - tokens_;
  if (missing <= 0) return refilled_at_;
  return refilled_at_ + std::chrono::nanoseconds(static_cast<std::int64_t>(std::ceil(missing / bytes_per_ns_)));
}

read_pacer::read_pacer(boost::asio::io_context& ioc, std::uint64_t bytes_per_s) : timer_(ioc) {
  if (bytes_per_s > 0) bucket_.emplace(bytes_per_s, clock::now());
}

}  // namespace memgate::loadgen
