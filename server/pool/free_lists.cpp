#include "pool/free_lists.hpp"

#include <array>
#include <cstdlib>
#include <utility>

namespace memgate::pool {
namespace {

// One class per 16 bytes, no coarser than glibc's own rounding: a block that lives as long as
// its connection (nghttp2's HPACK tables, a session's settings) costs about what it would
// straight from malloc. Four classes per doubling cost an idle h2c connection about 500 B
// more, mostly nghttp2's two 1 KiB blocks rounded up with their size header.
constexpr std::size_t class_step = 16;
constexpr std::size_t class_count = largest_block_bytes / class_step;

constexpr std::size_t class_of(std::size_t bytes) noexcept {
  return bytes == 0 ? 0 : (bytes - 1) / class_step;
}
constexpr std::size_t capacity_of(std::size_t size_class) noexcept { return (size_class + 1) * class_step; }

struct free_block {
  free_block* next;
};

// Trivially destructible, so it can still be read once the thread's lists are gone: a block
// given back after that (by another thread-local object's destructor) is freed at once.
constinit thread_local bool thread_exiting = false;

struct thread_lists {
  std::array<free_block*, class_count> heads{};
  std::size_t kept_bytes = 0;

  ~thread_lists() {
    thread_exiting = true;
    release();
  }
  void release() noexcept {
    for (free_block*& head : heads) {
      while (head != nullptr) std::free(std::exchange(head, head->next));
    }
    kept_bytes = 0;
  }
};

thread_local thread_lists lists;

}  // namespace

std::size_t block_capacity(std::size_t bytes) noexcept { return capacity_of(class_of(bytes)); }

void* take(std::size_t bytes) noexcept {
  const std::size_t size_class = class_of(bytes);
  if (!thread_exiting) {
    if (free_block* block = lists.heads[size_class]) {
      lists.heads[size_class] = block->next;
      lists.kept_bytes -= capacity_of(size_class);
      return block;
    }
  }
  return std::malloc(capacity_of(size_class));
}

void give_back(void* block, std::size_t bytes) noexcept {
  const std::size_t size_class = class_of(bytes);
  const std::size_t capacity = capacity_of(size_class);
  if (thread_exiting || lists.kept_bytes + capacity > kept_bytes_per_thread_max) return std::free(block);
  lists.heads[size_class] = ::new (block) free_block{lists.heads[size_class]};
  lists.kept_bytes += capacity;
}

std::size_t this_thread_kept_bytes() noexcept { return thread_exiting ? 0 : lists.kept_bytes; }

void release_this_thread() noexcept {
  if (!thread_exiting) lists.release();
}

}  // namespace memgate::pool
