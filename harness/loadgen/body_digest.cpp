#include "body_digest.hpp"

#include <bit>
#include <cstdio>
#include <cstring>
#include <thread>

namespace memgate::loadgen {
namespace {

// XXH64's constants and rounds (github.com/Cyan4973/xxHash, doc/xxhash_spec.md).
constexpr std::uint64_t prime1 = 0x9E3779B185EBCA87ULL;
constexpr std::uint64_t prime2 = 0xC2B2AE3D27D4EB4FULL;
constexpr std::uint64_t prime3 = 0x165667B19E3779F9ULL;
constexpr std::uint64_t prime4 = 0x85EBCA77C2B2AE63ULL;
constexpr std::uint64_t prime5 = 0x27D4EB2F165667C5ULL;

std::uint64_t read64(const unsigned char* p) noexcept {
  std::uint64_t v = 0;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  return v;
}

std::uint32_t read32(const unsigned char* p) noexcept {
  std::uint32_t v = 0;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap32(v);
  return v;
}

std::uint64_t round(std::uint64_t acc, std::uint64_t input) noexcept {
  return std::rotl(acc + input * prime2, 31) * prime1;
}

std::uint64_t merge_round(std::uint64_t acc, std::uint64_t lane) noexcept {
  return (acc ^ round(0, lane)) * prime1 + prime4;
}

void consume_stripe(std::array<std::uint64_t, 4>& lanes, const unsigned char* p) noexcept {
  for (std::size_t i = 0; i < lanes.size(); ++i) lanes[i] = round(lanes[i], read64(p + 8 * i));
}

}  // namespace

std::string xxh64_hex(const body_digest& d) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(d.xxh64));
  return hex;
}

std::string describe(const body_digest& d) { return "length " + std::to_string(d.length) + ", xxh64 " + xxh64_hex(d); }

void body_hasher::reset() noexcept {
  lanes_ = {prime1 + prime2, prime2, 0, 0 - prime1};
  tail_size_ = 0;
  length_ = 0;
}

void body_hasher::update(std::string_view piece) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(piece.data());
  std::size_t n = piece.size();
  length_ += n;
  if (tail_size_ > 0) {
    const std::size_t take = std::min(n, stripe - tail_size_);
    std::memcpy(tail_.data() + tail_size_, p, take);
    tail_size_ += take;
    p += take;
    n -= take;
    if (tail_size_ < stripe) return;
    consume_stripe(lanes_, tail_.data());
    tail_size_ = 0;
  }
  for (; n >= stripe; p += stripe, n -= stripe) consume_stripe(lanes_, p);
  std::memcpy(tail_.data(), p, n);
  tail_size_ = n;
}

body_digest body_hasher::digest() const noexcept {
  std::uint64_t h = 0;
  if (length_ >= stripe) {
    h = std::rotl(lanes_[0], 1) + std::rotl(lanes_[1], 7) + std::rotl(lanes_[2], 12) + std::rotl(lanes_[3], 18);
    for (const auto lane : lanes_) h = merge_round(h, lane);
  } else {
    h = prime5;
  }
  h += length_;
  const unsigned char* p = tail_.data();
  std::size_t n = tail_size_;
  for (; n >= 8; p += 8, n -= 8) h = std::rotl(h ^ round(0, read64(p)), 27) * prime1 + prime4;
  if (n >= 4) {
    h = std::rotl(h ^ (read32(p) * prime1), 23) * prime2 + prime3;
    p += 4;
    n -= 4;
  }
  for (; n > 0; ++p, --n) h = std::rotl(h ^ (*p * prime5), 11) * prime1;
  h ^= h >> 33;
  h *= prime2;
  h ^= h >> 29;
  h *= prime3;
  h ^= h >> 32;
  return {length_, h};
}

bool digest_reference::agrees(const body_digest& d) noexcept {
  if (reference_.offer(d) || reference_.wait() == d) return true;
  mismatches_.fetch_add(1, std::memory_order_relaxed);
  first_mismatch_.offer(d);
  return false;
}

bool digest_reference::write_once::offer(const body_digest& d) noexcept {
  unsigned char expected = empty;
  if (!state_.compare_exchange_strong(expected, writing, std::memory_order_acquire)) return false;
  value_ = d;
  state_.store(stored, std::memory_order_release);
  return true;
}

std::optional<body_digest> digest_reference::write_once::get() const noexcept {
  if (state_.load(std::memory_order_acquire) != stored) return std::nullopt;
  return value_;
}

body_digest digest_reference::write_once::wait() const noexcept {
  // The writer is between two stores: a few nanoseconds, unless it was preempted.
  while (state_.load(std::memory_order_acquire) != stored) std::this_thread::yield();
  return value_;
}

}  // namespace memgate::loadgen
