#include "http1/field_arena.hpp"

#include "pool/free_lists.hpp"

#include <cstddef>
#include <cstdint>
#include <new>

namespace memgate::http1 {
namespace {

// A typical request's fields and target (curl, h2load, loadgen: a few hundred bytes with
// Beast's element overhead) fit; a slowloris connection holding one costs this much.
constexpr std::size_t block_bytes = 1024;
static_assert(block_bytes <= pool::largest_block_bytes);

// Beast asks for at most pointer alignment; a block (from malloc) has max_align_t's.
constexpr bool plain_alignment(std::size_t alignment) { return alignment <= alignof(std::max_align_t); }

void* spill(std::size_t bytes, std::size_t alignment) {
  if (plain_alignment(alignment)) return ::operator new(bytes);
  return ::operator new(bytes, std::align_val_t{alignment});
}

void free_spilled(void* pointer, std::size_t alignment) noexcept {
  if (plain_alignment(alignment)) return ::operator delete(pointer);
  ::operator delete(pointer, std::align_val_t{alignment});
}

}  // namespace

void* field_arena::allocate(std::size_t bytes, std::size_t alignment) {
  if (bytes <= block_bytes && plain_alignment(alignment)) {
    if (block_ == nullptr) {
      block_ = static_cast<std::byte*>(pool::take(block_bytes));
      if (block_ == nullptr) throw std::bad_alloc();
    }
    const std::size_t start = (used_ + alignment - 1) / alignment * alignment;
    if (start + bytes <= block_bytes) {
      used_ = start + bytes;
      return block_ + start;
    }
  }
  return spill(bytes, alignment);
}

// Space in the block is reused only once the whole block is released: Beast gives back a
// field when it is erased, which a request does at most a few times.
void field_arena::deallocate(void* pointer, std::size_t, std::size_t alignment) noexcept {
  const auto address = reinterpret_cast<std::uintptr_t>(pointer);
  const auto block = reinterpret_cast<std::uintptr_t>(block_);
  if (block_ != nullptr && address - block < block_bytes) return;  // one unsigned compare: inside the block
  free_spilled(pointer, alignment);
}

void field_arena::release() noexcept {
  if (block_ == nullptr) return;
  pool::give_back(block_, block_bytes);
  block_ = nullptr;
  used_ = 0;
}

}  // namespace memgate::http1
