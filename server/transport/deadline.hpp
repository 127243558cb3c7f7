#pragma once
// A connection's own deadline, with one timer wait in flight however often it moves: moving
// it later is a store, not a timer cancellation per read; moving it earlier re-arms the wait.
// The stream's expiry cannot serve: it bounds operations on the stream, and a wait for
// readability (pooled_read.hpp) is none.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>

namespace memgate::transport {

class deadline {
 public:
  using clock = std::chrono::steady_clock;

  explicit deadline(const boost::asio::any_io_executor& executor) : timer_(executor) {}

  void set_after_ms(std::uint32_t ms) { at_ = clock::now() + std::chrono::milliseconds(ms); }
  void clear() { at_ = clock::time_point::max(); }

  // Calls on_expired() once the deadline passed, unless it moved or was cleared meanwhile.
  // The handler keeps the connection, and so this object, alive while it waits.
  template <typename Handler>
  void arm(Handler on_expired) {
    if (at_ == clock::time_point::max() || (waiting_ && timer_.expiry() <= at_)) return;
    waiting_ = true;
    timer_.expires_at(at_);  // cancels a later wait in flight
    timer_.async_wait([this, on_expired = std::move(on_expired)](boost::system::error_code ec) mutable {
      if (ec == boost::asio::error::operation_aborted) return;  // re-armed earlier, or cancelled
      waiting_ = false;
      if (ec) return;
      if (clock::now() < at_) return arm(std::move(on_expired));  // moved later meanwhile
      on_expired();
    });
  }

  // A closing connection: the wait in flight holds it.
  void cancel() { timer_.cancel(); }

 private:
  boost::asio::steady_timer timer_;
  clock::time_point at_ = clock::time_point::max();
  bool waiting_ = false;
};

}  // namespace memgate::transport
