#pragma once
// A /stream body, chunk by chunk. With backpressure (the default) the next chunk exists
// once the output took the previous one. Without (`--no-backpressure`), chunks are copied
// into owned buffers, framing included, as fast as the event loop turns, whatever the peer
// takes: the queue is what grows, up to a cap per response so the machine survives.
// The producer is chosen once at start-up (strategies.hpp); both protocols drive it the
// same way, through a chunk_target each supplies.
#include "strategy/body_piece.hpp"
#include "strategy/fresh_buffer.hpp"

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>

namespace memgate::strategy {

// One response's chunks: how many body bytes exist so far, and the chunks made ahead.
class chunked_body {
 public:
  // A new response of `length` body bytes (max: endless), in chunks of `chunk_bytes`.
  // Reuses the queue's storage: a stream's state is made once.
  void reset(std::uint64_t length, std::size_t chunk_bytes);

  std::uint64_t produced() const { return produced_; }
  bool all_produced() const { return produced_ >= length_; }
  std::size_t next_chunk_length() const;
  void make_available(std::size_t length) { produced_ += length; }

  bool has_queued() const { return !queued_.empty(); }
  bytes_view queued_front() const { return bytes_view(*queued_.front()).subspan(front_taken_); }
  const owned_bytes& queued_front_owner() const { return queued_.front(); }
  std::uint64_t queued_bytes() const { return queued_bytes_; }
  // A chunk made ahead of next_chunk_length() body bytes, framing included.
  void enqueue(owned_bytes chunk);
  // The output took `bytes` of the front chunk. When that finishes it, the chunk leaves
  // the queue and its body length is returned.
  std::optional<std::uint64_t> take_queued(std::size_t bytes);

  bool paused() const { return paused_; }
  void set_paused(bool paused) { paused_ = paused; }
  // A write failed: nothing more is made, and what was made goes.
  void stop();

 private:
  std::uint64_t length_ = 0;
  std::size_t chunk_bytes_ = 0;
  std::uint64_t produced_ = 0;
  std::uint64_t taken_ = 0;  // body bytes of the chunks that left the queue
  std::deque<owned_bytes> queued_;
  std::size_t front_taken_ = 0;
  std::uint64_t queued_bytes_ = 0;
  bool paused_ = false;
};

// What a protocol supplies to a chunk producer.
class chunk_target {
 public:
  // A chunk made ahead: the protocol's framing around body[offset, offset + length).
  virtual body_piece frame_chunk(std::uint64_t offset, std::size_t length) = 0;
  // More body bytes exist (or were queued): send them once the output is free.
  virtual void on_chunks_available() = 0;
  // Calls chunk_producer::produce() from the event loop, outside the current call chain.
  virtual void schedule_production() = 0;

 protected:
  ~chunk_target() = default;
};

class chunk_producer {
 public:
  virtual ~chunk_producer() = default;
  // The response's headers are out: make the first bytes.
  virtual void start(chunked_body& body, chunk_target& target) const = 0;
  // The output took every byte produced so far.
  virtual void on_drained(chunked_body& body, chunk_target& target) const = 0;
  // The output finished a queued chunk.
  virtual void on_chunk_taken(chunked_body& body, chunk_target& target) const = 0;
  // The step schedule_production() asked for.
  virtual void produce(chunked_body& body, chunk_target& target) const = 0;
};

std::unique_ptr<const chunk_producer> make_chunk_producer(bool backpressure, std::uint64_t queue_cap_bytes);

}  // namespace memgate::strategy
