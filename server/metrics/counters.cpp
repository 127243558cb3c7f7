#include "metrics/counters.hpp"

#include <array>
#include <atomic>
#include <cstddef>

namespace memgate::metrics {
namespace {

constexpr std::size_t counter_count = static_cast<std::size_t>(counter::count_);
// Threads beyond this share the last slot, which stays correct (atomic adds), only slower.
constexpr std::size_t max_thread_slots = 128;

struct alignas(64) thread_slot {
  std::array<std::atomic<std::int64_t>, counter_count> values{};
};

constinit std::array<thread_slot, max_thread_slots> slots{};
constinit std::atomic<std::size_t> next_slot{0};
constinit thread_local thread_slot* this_thread_slot = nullptr;

thread_slot& slot_for_this_thread() noexcept {
  if (this_thread_slot == nullptr) {
    std::size_t index = next_slot.fetch_add(1, std::memory_order_relaxed);
    if (index >= max_thread_slots) index = max_thread_slots - 1;
    this_thread_slot = &slots[index];
  }
  return *this_thread_slot;
}

}  // namespace

void add(counter which, std::int64_t amount) noexcept {
  thread_slot& slot = slot_for_this_thread();
  auto& value = slot.values[static_cast<std::size_t>(which)];
  if (&slot == &slots[max_thread_slots - 1]) {
    value.fetch_add(amount, std::memory_order_relaxed);  // the overflow slot: shared, so a locked add
  } else {
    // Only this thread writes its slot: a plain load and store, no locked read-modify-write.
    // This runs several times per request and write; a locked add here cost ~4% of a busy server's CPU.
    value.store(value.load(std::memory_order_relaxed) + amount, std::memory_order_relaxed);
  }
}

std::int64_t total(counter which) noexcept {
  const std::size_t used = std::min(next_slot.load(std::memory_order_relaxed), max_thread_slots);
  std::int64_t sum = 0;
  for (std::size_t i = 0; i < used; ++i) {
    sum += slots[i].values[static_cast<std::size_t>(which)].load(std::memory_order_relaxed);
  }
  return sum;
}

}  // namespace memgate::metrics
