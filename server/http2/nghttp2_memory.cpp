#include "http2/nghttp2_memory.hpp"

#include "pool/free_lists.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

namespace memgate::http2 {
namespace {

// In front of every block, as nghttp2's free passes no size: malloc's alignment is kept for
// what nghttp2 gets.
struct alignas(std::max_align_t) block_header {
  std::size_t capacity;  // what nghttp2 may use, after the header
  bool pooled;
};

constexpr std::size_t largest_pooled_size = pool::largest_block_bytes - sizeof(block_header);

block_header* header_of(void* block) { return static_cast<block_header*>(block) - 1; }

void* allocate(std::size_t size) {
  const bool pooled = size <= largest_pooled_size;
  const std::size_t bytes = sizeof(block_header) + size;
  void* taken = pooled ? pool::take(bytes) : std::malloc(bytes);
  if (taken == nullptr) return nullptr;
  auto* header = ::new (taken) block_header{pooled ? pool::block_capacity(bytes) - sizeof(block_header) : size, pooled};
  return header + 1;
}

void release(void* block) {
  if (block == nullptr) return;
  block_header* header = header_of(block);
  if (!header->pooled) return std::free(header);
  pool::give_back(header, sizeof(block_header) + header->capacity);
}

void* nghttp2_malloc(std::size_t size, void*) { return allocate(size); }
void nghttp2_free(void* block, void*) { release(block); }
void* nghttp2_calloc(std::size_t count, std::size_t size, void*) {
  if (size != 0 && count > SIZE_MAX / size) return nullptr;
  void* block = allocate(count * size);
  if (block != nullptr) std::memset(block, 0, count * size);
  return block;
}
void* nghttp2_realloc(void* block, std::size_t size, void*) {
  if (block == nullptr) return allocate(size);
  const std::size_t capacity = header_of(block)->capacity;
  if (size <= capacity) return block;
  void* grown = allocate(size);
  if (grown == nullptr) return nullptr;  // like realloc: the old block stays the caller's
  std::memcpy(grown, block, capacity);
  release(block);
  return grown;
}

nghttp2_mem memory{nullptr, nghttp2_malloc, nghttp2_free, nghttp2_calloc, nghttp2_realloc};

}  // namespace

nghttp2_mem* nghttp2_memory() { return &memory; }

}  // namespace memgate::http2
