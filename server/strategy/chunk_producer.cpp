#include "strategy/chunk_producer.hpp"

namespace memgate::strategy {

void chunked_body::reset(std::uint64_t length, std::size_t chunk_bytes) {
  length_ = length;
  chunk_bytes_ = chunk_bytes;
  produced_ = 0;
  taken_ = 0;
  queued_.clear();
  front_taken_ = 0;
  queued_bytes_ = 0;
  paused_ = false;
}

std::size_t chunked_body::next_chunk_length() const {
  return static_cast<std::size_t>(std::min<std::uint64_t>(chunk_bytes_, length_ - produced_));
}

void chunked_body::enqueue(owned_bytes chunk) {
  produced_ += next_chunk_length();
  queued_bytes_ += chunk->size();
  queued_.push_back(std::move(chunk));
}

std::optional<std::uint64_t> chunked_body::take_queued(std::size_t bytes) {
  front_taken_ += bytes;
  if (front_taken_ < queued_.front()->size()) return std::nullopt;
  queued_bytes_ -= queued_.front()->size();
  queued_.pop_front();
  front_taken_ = 0;
  // Chunks are made in order, each of the length next_chunk_length() gave then.
  const std::uint64_t body_length = std::min<std::uint64_t>(chunk_bytes_, length_ - taken_);
  taken_ += body_length;
  return body_length;
}

void chunked_body::stop() {
  queued_.clear();
  front_taken_ = 0;
  queued_bytes_ = 0;
  paused_ = false;
  length_ = produced_;
}

namespace {

// The next chunk once the output took the previous one.
class paced_producer final : public chunk_producer {
 public:
  void start(chunked_body& body, chunk_target& target) const override { make_next(body, target); }
  void on_drained(chunked_body& body, chunk_target& target) const override {
    if (!body.all_produced()) make_next(body, target);
  }
  void on_chunk_taken(chunked_body&, chunk_target&) const override {}  // nothing is queued
  void produce(chunked_body&, chunk_target&) const override {}        // nothing is scheduled

 private:
  static void make_next(chunked_body& body, chunk_target& target) {
    body.make_available(body.next_chunk_length());
    target.on_chunks_available();
  }
};

// Chunks made ahead, a few per turn of the event loop so other connections get theirs.
class ahead_producer final : public chunk_producer {
 public:
  explicit ahead_producer(std::uint64_t queue_cap_bytes) : cap_(queue_cap_bytes) {}

  void start(chunked_body& body, chunk_target& target) const override { produce(body, target); }
  void on_drained(chunked_body&, chunk_target&) const override {}  // production does not wait on the output
  // Half the cap, not the cap: the producer does not wake for every chunk written.
  void on_chunk_taken(chunked_body& body, chunk_target& target) const override {
    if (!body.paused() || body.queued_bytes() >= cap_ / 2) return;
    body.set_paused(false);
    target.schedule_production();
  }

  void produce(chunked_body& body, chunk_target& target) const override {
    for (std::size_t i = 0; i < chunks_per_step && !body.all_produced() && body.queued_bytes() < cap_; ++i) {
      const body_piece piece = target.frame_chunk(body.produced(), body.next_chunk_length());
      fresh_buffer chunk(piece.size());
      chunk.append(piece);
      body.enqueue(chunk.share());
    }
    target.on_chunks_available();
    body.set_paused(!body.all_produced() && body.queued_bytes() >= cap_);
    if (!body.all_produced() && !body.paused()) target.schedule_production();
  }

 private:
  static constexpr std::size_t chunks_per_step = 16;
  std::uint64_t cap_;
};

}  // namespace

std::unique_ptr<const chunk_producer> make_chunk_producer(bool backpressure, std::uint64_t queue_cap_bytes) {
  if (backpressure) return std::make_unique<paced_producer>();
  return std::make_unique<ahead_producer>(queue_cap_bytes);
}

}  // namespace memgate::strategy
