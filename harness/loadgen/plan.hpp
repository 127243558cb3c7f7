// What to send: per-URL request templates, the deterministic weighted mix, and the shared
// run control that hands out exactly N request tickets (optionally rate limited).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nghttp2/nghttp2.h>

#include "body_digest.hpp"
#include "options.hpp"
#include "response_check.hpp"

namespace memgate::loadgen {

using clock = std::chrono::steady_clock;

// Smooth weighted round-robin (nginx style): for weights {3,1} the order is a a b a, repeating.
// Returns one full cycle (sum of weights entries) of URL indices.
std::vector<std::uint32_t> smooth_weighted_cycle(const std::vector<std::uint32_t>& weights);

struct request_template {
  std::string target;
  std::string h1_head;             // the serialized HTTP/1.1 request head, sent as is
  std::uint64_t body_bytes = 0;    // upload size (POST), streamed from the pattern
  bool post = false;
  body_expectation expect;
  std::vector<std::string> h2_strings;  // owns the bytes h2_headers points to
  std::vector<nghttp2_nv> h2_headers;
};

class plan {
 public:
  explicit plan(const options& opts);
  plan(const plan&) = delete;
  plan& operator=(const plan&) = delete;

  const options& opts() const noexcept { return opts_; }
  const std::string& authority() const noexcept { return authority_; }
  const request_template& for_seq(std::uint64_t seq) const noexcept {
    return requests_[cycle_[seq % cycle_.size()]];
  }
  std::uint32_t url_index_for_seq(std::uint64_t seq) const noexcept { return cycle_[seq % cycle_.size()]; }
  // --verify digest: what the URL at `index` (in --url order) was held to.
  const digest_reference& digest_of(std::size_t index) const noexcept { return digests_[index]; }

 private:
  options opts_;
  std::string authority_;
  // One per URL: the checkers of every thread write the first digest into it, so it is not const.
  std::unique_ptr<digest_reference[]> digests_;
  std::vector<request_template> requests_;
  std::vector<std::uint32_t> cycle_;
};

// Shared by all threads: hands out request tickets 0..N-1 and counts outcomes for progress.
// With `reserved_firsts` > 0 (--hold: one per connection) that many tickets are kept for
// first requests: a connection asking for another request gets none while the tickets left
// are needed by connections still waiting for their first, so every connection gets one.
class run_control {
 public:
  struct ticket {
    std::uint64_t seq;
    clock::time_point due;  // not before this (rate limit); past for unlimited runs
  };

  run_control(std::uint64_t planned, double rate, clock::time_point start, std::uint64_t reserved_firsts = 0) noexcept
      : planned_(planned), rate_(rate), start_(start), firsts_pending_(reserved_firsts) {}

  // `first`: the caller's connection slot asks for its first request (only with reserved firsts).
  std::optional<ticket> acquire(bool first = false) noexcept;
  // No ticket left for a connection slot that already had its first (or, `first`, for one that did not).
  bool exhausted(bool first = false) const noexcept {
    const auto next = next_.load(std::memory_order_relaxed);
    return next >= planned_ || (!first && planned_ - next <= firsts_pending_.load(std::memory_order_relaxed));
  }
  // The server cannot be reached (a connect gave up after its retries): no ticket is handed
  // out any more. Returns how many were never handed out, so the caller counts them failed.
  std::uint64_t abandon_rest() noexcept {
    const auto next = next_.exchange(planned_, std::memory_order_relaxed);
    return next < planned_ ? planned_ - next : 0;
  }
  std::uint64_t planned() const noexcept { return planned_; }
  clock::time_point start() const noexcept { return start_; }

  std::atomic<std::uint64_t> completed{0};
  std::atomic<std::uint64_t> failed{0};

 private:
  const std::uint64_t planned_;
  const double rate_;
  const clock::time_point start_;
  std::atomic<std::uint64_t> next_{0};
  std::atomic<std::uint64_t> firsts_pending_;
};

}  // namespace memgate::loadgen
