#pragma once
// Process-wide counters kept per thread (one cache line each, so the event-loop
// threads never contend) and summed when sampled.
#include <cstdint>

namespace memgate::metrics {

enum class counter : int {
  live_heap_bytes,
  allocations,
  allocated_bytes,  // cumulative: what allocation-heavy code churns through
  deallocations,
  h1_requests,
  h2_requests,
  connections_accepted,
  connections_closed,
  write_calls,
  bytes_written,
  bytes_copied,
  leaked_bytes,
  count_
};

void add(counter which, std::int64_t amount = 1) noexcept;
std::int64_t total(counter which) noexcept;

}  // namespace memgate::metrics
