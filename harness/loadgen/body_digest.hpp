// What --verify digest compares: a body's length and its XXH64 (seed 0), hashed piecewise as
// the bytes arrive so no body is kept; and the per-URL reference that the first 2xx body sets.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace memgate::loadgen {

struct body_digest {
  std::uint64_t length = 0;
  std::uint64_t xxh64 = 0;
  bool operator==(const body_digest&) const = default;
};

// "6ac1e58032166597": the hash as 16 hex digits.
std::string xxh64_hex(const body_digest& d);
// "length 100, xxh64 6ac1e58032166597": how the report names a digest.
std::string describe(const body_digest& d);

// XXH64 over pieces of any size; the result does not depend on where the pieces split.
class body_hasher {
 public:
  body_hasher() noexcept { reset(); }
  void reset() noexcept;
  void update(std::string_view piece) noexcept;
  body_digest digest() const noexcept;

 private:
  static constexpr std::size_t stripe = 32;
  std::array<std::uint64_t, 4> lanes_{};
  std::array<unsigned char, stripe> tail_{};  // bytes of an incomplete stripe
  std::size_t tail_size_ = 0;
  std::uint64_t length_ = 0;
};

// Shared by every connection of every thread for one URL: the first digest offered becomes
// the reference, each later one must equal it. Lock-free: a digest is offered once per response.
class digest_reference {
 public:
  // True when `d` equals the reference (the first call sets it and agrees).
  bool agrees(const body_digest& d) noexcept;

  std::optional<body_digest> reference() const noexcept { return reference_.get(); }
  std::optional<body_digest> first_mismatch() const noexcept { return first_mismatch_.get(); }
  std::uint64_t mismatches() const noexcept { return mismatches_.load(std::memory_order_relaxed); }

 private:
  // A value written once by whichever thread offers first; readers wait out the write.
  class write_once {
   public:
    bool offer(const body_digest& d) noexcept;  // true when this call stored `d`
    std::optional<body_digest> get() const noexcept;
    body_digest wait() const noexcept;  // after an offer: the stored value

   private:
    enum : unsigned char { empty, writing, stored };
    std::atomic<unsigned char> state_{empty};
    body_digest value_;
  };

  write_once reference_;
  write_once first_mismatch_;
  std::atomic<std::uint64_t> mismatches_{0};
};

}  // namespace memgate::loadgen
