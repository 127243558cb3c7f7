#pragma once
// One open connection in /mem's connection counts, from accept to destruction,
// whichever object (sniffer, TLS handshake, session) owns the connection by then.
#include "metrics/counters.hpp"

#include <utility>

namespace memgate::transport {

class connection_slot {
 public:
  connection_slot() { metrics::add(metrics::counter::connections_accepted); }
  connection_slot(connection_slot&& other) noexcept : open_(std::exchange(other.open_, false)) {}
  connection_slot& operator=(connection_slot&&) = delete;
  connection_slot(const connection_slot&) = delete;
  ~connection_slot() {
    if (open_) metrics::add(metrics::counter::connections_closed);
  }

  static std::int64_t open_connections() {
    return metrics::total(metrics::counter::connections_accepted) - metrics::total(metrics::counter::connections_closed);
  }

 private:
  bool open_ = true;
};

}  // namespace memgate::transport
