#include "plan.hpp"

#include <atomic>
#include <map>
#include <thread>

#include <gtest/gtest.h>

namespace memgate::loadgen {
namespace {

TEST(WeightedMix, SmoothOrder) {
  EXPECT_EQ(smooth_weighted_cycle({3, 1}), (std::vector<std::uint32_t>{0, 0, 1, 0}));
  EXPECT_EQ(smooth_weighted_cycle({1, 1, 1}), (std::vector<std::uint32_t>{0, 1, 2}));
  // nginx's classic example: weights 5,1,1 give a a b a c a a.
  EXPECT_EQ(smooth_weighted_cycle({5, 1, 1}), (std::vector<std::uint32_t>{0, 0, 1, 0, 2, 0, 0}));
}

TEST(WeightedMix, ProportionalAndReproducible) {
  const std::vector<std::uint32_t> w = {7, 2, 1};
  const auto a = smooth_weighted_cycle(w);
  EXPECT_EQ(a, smooth_weighted_cycle(w));
  std::map<std::uint32_t, int> counts;
  for (auto i : a) ++counts[i];
  EXPECT_EQ(counts[0], 7);
  EXPECT_EQ(counts[1], 2);
  EXPECT_EQ(counts[2], 1);
  // Smooth: the heavy URL never runs more than ceil(7/3)+1 times in a row.
  int run = 0, longest = 0;
  for (auto i : a) { run = i == 0 ? run + 1 : 0; longest = std::max(longest, run); }
  EXPECT_LE(longest, 4);
}

options two_urls() {
  options o;
  o.urls = {{"http", "127.0.0.1", 8080, "/bytes/10"}, {"http", "127.0.0.1", 8080, "/upload"}};
  o.weights = {3, 1};
  o.requests = 1000;
  return o;
}

TEST(Plan, SequenceMapsToUrlsByWeight) {
  const plan p(two_urls());
  int first = 0;
  for (std::uint64_t seq = 0; seq < 1000; ++seq) first += p.url_index_for_seq(seq) == 0;
  EXPECT_EQ(first, 750);
  EXPECT_EQ(&p.for_seq(0), &p.for_seq(4));
  EXPECT_EQ(p.for_seq(2).target, "/upload");
}

TEST(Plan, SerializedRequests) {
  auto o = two_urls();
  o.method = http_method::post;
  o.upload_bytes = 1234;
  const plan p(o);
  const auto& up = p.for_seq(2);
  EXPECT_EQ(up.h1_head,
            "POST /upload HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: memgate-loadgen\r\n"
            "Content-Type: application/octet-stream\r\nContent-Length: 1234\r\n\r\n");
  EXPECT_EQ(up.expect.what, body_expectation::kind::upload);
  EXPECT_EQ(up.body_bytes, 1234u);
  ASSERT_EQ(up.h2_headers.size(), 6u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(up.h2_headers[3].value), up.h2_headers[3].valuelen), "/upload");

  const plan g(two_urls());
  EXPECT_EQ(g.for_seq(0).h1_head, "GET /bytes/10 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: memgate-loadgen\r\n\r\n");
  EXPECT_EQ(g.for_seq(0).expect.what, body_expectation::kind::pattern);
  EXPECT_EQ(g.for_seq(0).expect.length, 10u);
}

// --verify decides what each URL expects; the paths matter only under pattern.
TEST(Plan, ExpectationsByVerifyMode) {
  using kind = body_expectation::kind;
  auto o = two_urls();
  o.verify = verify_mode::status;
  const plan status(o);
  EXPECT_EQ(status.for_seq(0).expect.what, kind::any);
  EXPECT_EQ(status.for_seq(2).expect.what, kind::any);

  o.verify = verify_mode::length;
  o.expect_lengths = {11, 22};
  const plan length(o);
  EXPECT_EQ(length.for_seq(0).expect.what, kind::exact_length);
  EXPECT_EQ(length.for_seq(0).expect.length, 11u);
  EXPECT_EQ(length.for_seq(2).expect.length, 22u);

  o.verify = verify_mode::digest;
  const plan digest(o);
  EXPECT_EQ(digest.for_seq(0).expect.what, kind::digest);
  // One reference per URL, the same for every request of it.
  EXPECT_EQ(digest.for_seq(0).expect.reference, &digest.digest_of(0));
  EXPECT_EQ(digest.for_seq(4).expect.reference, &digest.digest_of(0));
  EXPECT_EQ(digest.for_seq(2).expect.reference, &digest.digest_of(1));
}

TEST(RunControl, HandsOutExactlyN) {
  run_control c(3, 0, clock::now());
  EXPECT_EQ(c.acquire()->seq, 0u);
  EXPECT_EQ(c.acquire()->seq, 1u);
  EXPECT_FALSE(c.exhausted());
  EXPECT_EQ(c.acquire()->seq, 2u);
  EXPECT_TRUE(c.exhausted());
  EXPECT_FALSE(c.acquire());
  EXPECT_FALSE(c.acquire());
}

TEST(RunControl, ReservedFirstsAreKeptForConnectionsWithoutOne) {
  run_control c(5, 0, clock::now(), 3);  // --hold, 3 connections, 5 requests
  EXPECT_EQ(c.acquire(true)->seq, 0u);    // connection A's first
  EXPECT_EQ(c.acquire()->seq, 1u);        // A's second: 4 left, 2 reserved
  EXPECT_EQ(c.acquire()->seq, 2u);        // A's third: 3 left, 2 reserved
  EXPECT_FALSE(c.acquire());              // 2 left, both reserved
  EXPECT_TRUE(c.exhausted());             // ... so a slot past its first would not be replaced
  EXPECT_FALSE(c.exhausted(true));
  EXPECT_EQ(c.acquire(true)->seq, 3u);    // B's first
  EXPECT_FALSE(c.acquire());
  EXPECT_EQ(c.acquire(true)->seq, 4u);    // C's first
  EXPECT_TRUE(c.exhausted());
  EXPECT_FALSE(c.acquire(true));
}

TEST(RunControl, ReservationsHoldAcrossThreads) {
  // 4 threads race for 1000 tickets while 100 slots wait for their first one.
  run_control c(1000, 0, clock::now(), 100);
  std::atomic<int> firsts{0};
  std::atomic<int> others{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        while (c.acquire()) ++others;  // greedy connections first
        if (c.acquire(true)) ++firsts;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(firsts.load(), 100);
  EXPECT_EQ(others.load(), 900);
  EXPECT_TRUE(c.exhausted());
}

TEST(RunControl, RateSpacesDueTimes) {
  const auto start = clock::now();
  run_control c(10, 100, start);  // 100 req/s: 10 ms apart
  const auto t0 = c.acquire();
  const auto t1 = c.acquire();
  const auto t2 = c.acquire();
  EXPECT_EQ(t0->due, start);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(t1->due - start).count(), 10);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(t2->due - start).count(), 20);
}

}  // namespace
}  // namespace memgate::loadgen
