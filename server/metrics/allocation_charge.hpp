#pragma once
// Which protocol's code this thread is running, so the live-heap count can charge each
// allocation to it: allocations per request per protocol even when one process serves h1
// and h2 at once. A protocol's handlers open a scope; what runs outside every scope (accept,
// preface sniffing, the TLS handshake before ALPN, /mem's own work) stays unattributed.
#include <cstdint>

namespace memgate::metrics {

enum class protocol : std::uint8_t { none, h1, h2 };

protocol charged_protocol() noexcept;

// Charges this thread's allocations to `p` for its lifetime, then restores what was charged.
class allocations_of {
 public:
  explicit allocations_of(protocol p) noexcept;
  ~allocations_of();
  allocations_of(const allocations_of&) = delete;
  allocations_of& operator=(const allocations_of&) = delete;

 private:
  protocol previous_;
};

}  // namespace memgate::metrics
