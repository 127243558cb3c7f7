#include "http2/block_pool.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace memgate::http2 {
namespace {

constexpr std::uint32_t unpooled = ~std::uint32_t{0};

constexpr auto class_capacities = [] {
  std::array<std::size_t, block_pool::class_count> capacities{};
  std::size_t step = 16;
  std::size_t capacity = 64;
  for (std::size_t i = 0; i < capacities.size(); ++i) {
    capacities[i] = capacity;
    if (i % 4 == 0 && i > 0) step *= 2;
    capacity += step;
  }
  return capacities;
}();
static_assert(class_capacities.back() == block_pool::max_pooled_bytes);

// In front of every block: malloc's alignment is kept for what nghttp2 gets.
struct alignas(std::max_align_t) block_header {
  std::size_t capacity;
  std::uint32_t size_class;
};

block_header* header_of(void* block) { return static_cast<block_header*>(block) - 1; }

std::uint32_t class_for(std::size_t size) {
  return static_cast<std::uint32_t>(std::lower_bound(class_capacities.begin(), class_capacities.end(), size) -
                                    class_capacities.begin());
}

void* nghttp2_malloc(std::size_t size, void* pool) { return static_cast<block_pool*>(pool)->allocate(size); }
void nghttp2_free(void* block, void* pool) { static_cast<block_pool*>(pool)->release(block); }
void* nghttp2_calloc(std::size_t count, std::size_t size, void* pool) {
  if (size != 0 && count > SIZE_MAX / size) return nullptr;
  void* block = static_cast<block_pool*>(pool)->allocate(count * size);
  if (block != nullptr) std::memset(block, 0, count * size);
  return block;
}
void* nghttp2_realloc(void* block, std::size_t size, void* pool) {
  return static_cast<block_pool*>(pool)->reallocate(block, size);
}

}  // namespace

block_pool::block_pool() : mem_{this, nghttp2_malloc, nghttp2_free, nghttp2_calloc, nghttp2_realloc} {}

block_pool::~block_pool() {
  for (free_block* head : free_) {
    while (head != nullptr) std::free(header_of(std::exchange(head, head->next)));
  }
}

void* block_pool::allocate(std::size_t size) {
  const bool pooled = size <= max_pooled_bytes;
  const std::uint32_t size_class = pooled ? class_for(size) : unpooled;
  if (pooled && free_[size_class] != nullptr) {
    free_block* block = free_[size_class];
    free_[size_class] = block->next;
    kept_bytes_ -= header_of(block)->capacity;
    return block;
  }
  const std::size_t capacity = pooled ? class_capacities[size_class] : size;
  auto* header = static_cast<block_header*>(std::malloc(sizeof(block_header) + capacity));
  if (header == nullptr) return nullptr;
  header->capacity = capacity;
  header->size_class = size_class;
  return header + 1;
}

void block_pool::release(void* block) {
  if (block == nullptr) return;
  block_header* header = header_of(block);
  if (header->size_class == unpooled || kept_bytes_ + header->capacity > max_kept_bytes) {
    std::free(header);
    return;
  }
  auto* kept = ::new (block) free_block{free_[header->size_class]};
  free_[header->size_class] = kept;
  kept_bytes_ += header->capacity;
}

void* block_pool::reallocate(void* block, std::size_t size) {
  if (block == nullptr) return allocate(size);
  const std::size_t capacity = header_of(block)->capacity;
  if (size <= capacity) return block;
  void* grown = allocate(size);
  if (grown == nullptr) return nullptr;  // like realloc: the old block stays the caller's
  std::memcpy(grown, block, std::min(capacity, size));
  release(block);
  return grown;
}

}  // namespace memgate::http2
