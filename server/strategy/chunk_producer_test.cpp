#include "strategy/chunk_producer.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace memgate::strategy {
namespace {

// A protocol as the producer sees it: chunks framed with a prefix, and a record of calls.
struct recorded_target final : chunk_target {
  body_piece frame_chunk(std::uint64_t offset, std::size_t length) override {
    return {.before = {as_bytes(prefix), {}}, .body = body, .offset = offset, .length = length};
  }
  void on_chunks_available() override { ++available_calls; }
  void schedule_production() override { ++scheduled; }

  app::response_body body = app::response_body::pattern(1 << 20);
  std::string prefix = "[]";
  int available_calls = 0;
  int scheduled = 0;
};

TEST(ChunkProducer, PacedMakesOneChunkPerDrainedOutputUntilTheEnd) {
  const auto producer = make_chunk_producer(true, 0);
  chunked_body body;
  body.reset(2500, 1000);
  recorded_target target;
  producer->start(body, target);
  EXPECT_EQ(body.produced(), 1000u);
  EXPECT_EQ(target.available_calls, 1);
  producer->on_drained(body, target);
  producer->on_drained(body, target);
  EXPECT_EQ(body.produced(), 2500u);  // the last chunk is the rest
  EXPECT_TRUE(body.all_produced());
  producer->on_drained(body, target);  // nothing more to make
  EXPECT_EQ(target.available_calls, 3);
  EXPECT_FALSE(body.has_queued());
  EXPECT_EQ(target.scheduled, 0);
}

TEST(ChunkProducer, AheadQueuesFramedCopiesSixteenPerStep) {
  const auto producer = make_chunk_producer(false, 1 << 30);
  chunked_body body;
  body.reset(100 * 10, 10);
  recorded_target target;
  producer->start(body, target);
  EXPECT_EQ(body.produced(), 160u);
  EXPECT_EQ(body.queued_bytes(), 16u * 12);  // each chunk carries its framing
  EXPECT_EQ(target.scheduled, 1);            // the next step, from the event loop
  const auto front = body.queued_front();
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(front.data()), 2), "[]");
  EXPECT_EQ(front[2], 0);
  EXPECT_EQ(front[11], 9);
  // Taking a chunk in two parts: it leaves the queue with the second, giving its body length.
  EXPECT_FALSE(body.take_queued(5));
  EXPECT_EQ(body.queued_front().size(), 7u);
  EXPECT_EQ(body.take_queued(7), std::optional<std::uint64_t>(10));
  for (int step = 0; step < 6; ++step) producer->produce(body, target);
  EXPECT_TRUE(body.all_produced());
  EXPECT_EQ(target.scheduled, 6);  // the step that made the last chunk asks for no other
}

TEST(ChunkProducer, AheadPausesAtTheCapAndResumesBelowHalfOfIt) {
  const std::uint64_t cap = 10 * 12;
  const auto producer = make_chunk_producer(false, cap);
  chunked_body body;
  body.reset(1 << 20, 10);
  recorded_target target;
  producer->start(body, target);
  EXPECT_EQ(body.queued_bytes(), cap);  // stopped at the cap, not after 16 chunks
  EXPECT_TRUE(body.paused());
  EXPECT_EQ(target.scheduled, 0);
  for (int i = 0; i < 5; ++i) {
    body.take_queued(12);
    producer->on_chunk_taken(body, target);
  }
  EXPECT_TRUE(body.paused());  // at half the cap: still paused
  EXPECT_EQ(target.scheduled, 0);
  body.take_queued(12);
  producer->on_chunk_taken(body, target);
  EXPECT_FALSE(body.paused());
  EXPECT_EQ(target.scheduled, 1);
}

TEST(ChunkProducer, StopDropsTheQueueAndEndsProduction) {
  const auto producer = make_chunk_producer(false, 1 << 30);
  chunked_body body;
  body.reset(std::numeric_limits<std::uint64_t>::max(), 10);  // endless
  recorded_target target;
  producer->start(body, target);
  body.stop();
  EXPECT_FALSE(body.has_queued());
  EXPECT_TRUE(body.all_produced());
  const auto produced = body.produced();
  producer->produce(body, target);  // a step already scheduled finds nothing to make
  EXPECT_EQ(body.produced(), produced);
  EXPECT_EQ(target.scheduled, 1);
}

}  // namespace
}  // namespace memgate::strategy
