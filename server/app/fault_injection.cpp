#include "app/fault_injection.hpp"

#include "metrics/counters.hpp"

#include <atomic>
#include <cstring>

namespace memgate::app {
namespace {

// The pointer escapes here, or the compiler may drop an allocation nobody uses. Atomic:
// every worker thread leaks through it (ThreadSanitizer caught the plain global).
std::atomic<void*> last_leaked_block{nullptr};

}  // namespace

void leak_heap_bytes(std::size_t bytes) {
  if (bytes == 0) return;
  void* block = ::operator new(bytes);
  std::memset(block, 0xA5, bytes);
  last_leaked_block.store(block, std::memory_order_relaxed);
  metrics::add(metrics::counter::leaked_bytes, static_cast<std::int64_t>(bytes));
}

}  // namespace memgate::app
