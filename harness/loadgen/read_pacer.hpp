// --read-rate: a slow reader. The next socket read starts only once the connection's token
// bucket is full again and asks for no more bytes than it holds. Not reading is the point:
// the kernel's receive buffer fills, the TCP window closes and the server meets backpressure
// (h2 flow control follows too: nghttp2 sends WINDOW_UPDATE only for bytes we fed it).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "plan.hpp"

namespace memgate::loadgen {

class token_bucket {
 public:
  // Holds 1/20 s worth of tokens (1 byte .. 64 KiB): reads stay small and evenly spaced.
  static std::size_t capacity_for(std::uint64_t bytes_per_s) noexcept;

  token_bucket(std::uint64_t bytes_per_s, clock::time_point now) noexcept;

  std::size_t capacity() const noexcept { return capacity_; }
  // Whole tokens at `now` (refilled for the time since the last call), at most capacity().
  std::size_t available(clock::time_point now) noexcept;
  void spend(std::size_t bytes) noexcept;
  // When the bucket will be full (as of the last available() call).
  clock::time_point full_at() const noexcept;

 private:
  double bytes_per_ns_;
  std::size_t capacity_;
  double tokens_;  // starts full
  clock::time_point refilled_at_;
};

class read_pacer {
 public:
  read_pacer(boost::asio::io_context& ioc, std::uint64_t bytes_per_s);

  // Calls read(limit), limit <= max_bytes: at once when unpaced, else when the bucket is full.
  // `read` must keep its connection alive (it holds the shared_ptr).
  template <class Read>
  void next(std::size_t max_bytes, Read read) {
    if (!bucket_) return read(max_bytes);
    const auto tokens = bucket_->available(clock::now());
    if (tokens >= bucket_->capacity()) return read(std::min(max_bytes, tokens));
    timer_.expires_at(bucket_->full_at());
    timer_.async_wait([this, max_bytes, read = std::move(read)](boost::system::error_code ec) mutable {
      if (!ec) next(max_bytes, std::move(read));
    });
  }
  void consumed(std::size_t bytes) noexcept {
    if (bucket_) bucket_->spend(bytes);
  }
  void cancel() { timer_.cancel(); }

 private:
  std::optional<token_bucket> bucket_;
  boost::asio::steady_timer timer_;
};

}  // namespace memgate::loadgen
