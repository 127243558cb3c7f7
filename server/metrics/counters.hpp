#pragma once
// Process-wide counters kept per thread (one cache line each, so the event-loop
// threads never contend) and summed when sampled.
#include <cstdint>

namespace memgate::metrics {

// Live heap is counted apart, by the counting core every target shares (live_heap.hpp).
enum class counter : int {
  h1_requests,
  h2_requests,
  connections_accepted,
  connections_closed,
  write_calls,
  bytes_written,
  bytes_copied,
  leaked_bytes,
  h2_streams_open,           // a gauge: +1 when a stream's state is created, -1 when it goes
  h2_streams_reset_by_peer,  // cumulative: streams the client ended with RST_STREAM
  count_
};

void add(counter which, std::int64_t amount = 1) noexcept;
std::int64_t total(counter which) noexcept;

// Adds one to a gauge for as long as it lives: a member of whatever is being counted,
// so every way that object goes away (close callback, session teardown) takes it off.
class counted_while_alive {
 public:
  explicit counted_while_alive(counter gauge) noexcept : gauge_(gauge) { add(gauge_, 1); }
  ~counted_while_alive() { add(gauge_, -1); }
  counted_while_alive(const counted_while_alive&) = delete;
  counted_while_alive& operator=(const counted_while_alive&) = delete;

 private:
  counter gauge_;
};

}  // namespace memgate::metrics
