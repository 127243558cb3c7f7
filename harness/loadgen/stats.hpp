// Per-thread counters of a run; merged once at the end.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "histogram.hpp"
#include "plan.hpp"
#include "response_check.hpp"

namespace memgate::loadgen {

// Status codes have three digits; the count of each is kept by index.
inline constexpr std::size_t status_codes = 1000;

struct run_stats {
  std::uint64_t completed = 0;
  std::uint64_t failed = 0;
  std::array<std::uint64_t, failure_kinds> failures{};
  std::uint64_t completed_h1 = 0;
  std::uint64_t completed_h2 = 0;
  std::uint64_t connections_opened = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t body_bytes_received = 0;
  std::uint64_t cancelled = 0;  // completed, but abandoned by --cancel-after-bytes
  std::uint64_t connect_retries = 0;
  std::uint64_t connects_in_flight_peak = 0;  // summed over workers: a bound on the run's peak
  std::uint64_t connections_held = 0;         // --hold: open and idle once all requests were done
  std::uint64_t held_connections_lost = 0;    // --hold: closed (by the peer) before the release
  std::array<std::uint64_t, status_codes> statuses{};  // per status of each response judged
  std::string first_malformed;  // what the first malformed response broke, for the report
  bool time_limit_hit = false;
  clock::time_point last_outcome{};  // when the last request completed or failed: the rates' end
  histogram latency_ns;

  void merge(const run_stats& o) noexcept {
    completed += o.completed;
    failed += o.failed;
    for (std::size_t i = 0; i < failures.size(); ++i) failures[i] += o.failures[i];
    completed_h1 += o.completed_h1;
    completed_h2 += o.completed_h2;
    connections_opened += o.connections_opened;
    bytes_sent += o.bytes_sent;
    bytes_received += o.bytes_received;
    body_bytes_received += o.body_bytes_received;
    cancelled += o.cancelled;
    connect_retries += o.connect_retries;
    connects_in_flight_peak += o.connects_in_flight_peak;
    connections_held += o.connections_held;
    held_connections_lost += o.held_connections_lost;
    for (std::size_t i = 0; i < statuses.size(); ++i) statuses[i] += o.statuses[i];
    if (first_malformed.empty()) first_malformed = o.first_malformed;
    time_limit_hit = time_limit_hit || o.time_limit_hit;
    last_outcome = std::max(last_outcome, o.last_outcome);
    latency_ns.merge(o.latency_ns);
  }
};

}  // namespace memgate::loadgen
