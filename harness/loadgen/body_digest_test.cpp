#include "body_digest.hpp"

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "pattern.hpp"

namespace memgate::loadgen {
namespace {

std::uint64_t xxh64_of(std::string_view bytes) {
  body_hasher h;
  h.update(bytes);
  return h.digest().xxh64;
}

std::string pattern_bytes(std::size_t n) {
  std::string s;
  for (std::size_t off = 0; off < n; off += pattern_max_slice) {
    s.append(pattern_slice(off, std::min(n - off, pattern_max_slice)));
  }
  return s;
}

// Reference values from the xxHash library (XXH64, seed 0).
TEST(BodyHasher, IsXxh64) {
  EXPECT_EQ(xxh64_of(""), 0xef46db3751d8e999ULL);
  EXPECT_EQ(xxh64_of("a"), 0xd24ec4f1a98c6e5bULL);
  EXPECT_EQ(xxh64_of("abc"), 0x44bc2cf5ad770999ULL);
  EXPECT_EQ(xxh64_of(pattern_bytes(100)), 0x6ac1e58032166597ULL);
  EXPECT_EQ(xxh64_of(pattern_bytes(1'000'000)), 0x1f19a46656c14355ULL);
}

TEST(BodyHasher, PiecesGiveTheSameDigestWhereverTheySplit) {
  const std::string body = pattern_bytes(1000);
  const body_digest whole{1000, xxh64_of(body)};
  for (const std::size_t piece : {1u, 3u, 7u, 31u, 32u, 33u, 64u, 999u}) {
    body_hasher h;
    for (std::size_t off = 0; off < body.size(); off += piece) h.update(std::string_view(body).substr(off, piece));
    EXPECT_EQ(h.digest(), whole) << piece;
  }
}

TEST(BodyHasher, ResetStartsOver) {
  body_hasher h;
  h.update("something else entirely, longer than one stripe");
  h.reset();
  h.update("abc");
  EXPECT_EQ(h.digest(), (body_digest{3, 0x44bc2cf5ad770999ULL}));
}

TEST(DigestReference, TheFirstSetsItAndLaterOnesMustEqualIt) {
  digest_reference ref;
  EXPECT_FALSE(ref.reference());
  EXPECT_TRUE(ref.agrees({5, 1}));
  EXPECT_TRUE(ref.agrees({5, 1}));
  EXPECT_FALSE(ref.agrees({5, 2}));
  EXPECT_FALSE(ref.agrees({4, 1}));
  EXPECT_EQ(ref.reference(), (body_digest{5, 1}));
  EXPECT_EQ(ref.first_mismatch(), (body_digest{5, 2}));
  EXPECT_EQ(ref.mismatches(), 2u);
  EXPECT_EQ(describe({5, 1}), "length 5, xxh64 0000000000000001");
}

TEST(DigestReference, ThreadsRacingForTheFirstAgreeOnOne) {
  digest_reference ref;
  std::vector<std::thread> threads;
  std::atomic<int> disagreed{0};
  for (std::uint64_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) disagreed += ref.agrees({t, t}) ? 0 : 1;
    });
  }
  for (auto& t : threads) t.join();
  // Exactly one thread's digest became the reference; the other three disagree every time.
  EXPECT_EQ(disagreed.load(), 3000);
  EXPECT_EQ(ref.mismatches(), 3000u);
}

}  // namespace
}  // namespace memgate::loadgen
