#include "app/fault_injection.hpp"

#include "app/pattern.hpp"
#include "metrics/counters.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

namespace memgate::app {
namespace {

// The pointer escapes here, or the compiler may drop an allocation nobody uses. Atomic:
// every worker thread leaks and copies through them (ThreadSanitizer caught the plain global).
std::atomic<void*> last_leaked_block{nullptr};
std::atomic<std::uint8_t> last_copied_byte{0};

// Always inlined: each injection is its own site in a profile, not this shared helper.
[[gnu::always_inline]] inline void* allocate_touched(std::size_t bytes, leak_via via) {
  void* block = via == leak_via::malloc ? std::malloc(bytes) : ::operator new(bytes);
  if (block == nullptr) throw std::bad_alloc();
  std::memset(block, 0xA5, bytes);
  return block;
}

}  // namespace

// Never inlined: a profile names the injected leak by this function, wherever it is called from.
[[gnu::noinline]] void leak_heap_bytes(std::size_t bytes, leak_via via) {
  if (bytes == 0) return;
  last_leaked_block.store(allocate_touched(bytes, via), std::memory_order_relaxed);
  metrics::add(metrics::counter::leaked_bytes, static_cast<std::int64_t>(bytes));
}

void copy_body_bytes(std::size_t bytes) {
  if (bytes == 0) return;
  const auto copy = std::make_unique<std::uint8_t[]>(bytes);
  for (std::size_t done = 0; done < bytes;) {
    const auto slice = pattern_slice(done, std::min(bytes - done, max_pattern_slice));
    std::memcpy(copy.get() + done, slice.data(), slice.size());
    done += slice.size();
  }
  last_copied_byte.store(copy[bytes - 1], std::memory_order_relaxed);
  metrics::add(metrics::counter::bytes_copied, static_cast<std::int64_t>(bytes));
}

held_block::held_block(std::size_t bytes, leak_via via)
    : block_(bytes == 0 ? nullptr : allocate_touched(bytes, via), release_held{via}) {}

void release_held::operator()(void* block) const {
  if (via == leak_via::malloc) {
    std::free(block);
  } else {
    ::operator delete(block);
  }
}

connection_faults::~connection_faults() {
  if (served_load_) leak_heap_bytes(config_.inject_leak_per_connection_bytes, config_.inject_leak_via);
}

void connection_faults::on_request_started(const route& r) {
  if (!r.counts_as_request()) return;
  served_load_ = true;
  leak_heap_bytes(config_.inject_leak_bytes, config_.inject_leak_via);
  copy_body_bytes(config_.inject_copy_bytes);
}

}  // namespace memgate::app
