#include "metrics/heap_accounting.hpp"

#include "metrics/allocation_charge.hpp"
#include "metrics/counters.hpp"

#include <malloc.h>
#include <openssl/crypto.h>

#include <cstdlib>
#include <new>

namespace memgate::metrics {
namespace {

// Constant-initialised: read from operator new before main() runs.
constinit thread_local protocol charged = protocol::none;

void note_allocated(void* block) noexcept {
  const auto size = static_cast<std::int64_t>(malloc_usable_size(block));
  add(counter::live_heap_bytes, size);
  add(counter::allocated_bytes, size);
  add(counter::allocations);
  if (charged == protocol::h1) {
    add(counter::h1_allocations);
    add(counter::h1_allocated_bytes, size);
  } else if (charged == protocol::h2) {
    add(counter::h2_allocations);
    add(counter::h2_allocated_bytes, size);
  }
}

void note_freed(void* block) noexcept {
  add(counter::live_heap_bytes, -static_cast<std::int64_t>(malloc_usable_size(block)));
  add(counter::deallocations);
}

void* aligned_block(std::size_t size, std::size_t alignment) noexcept {
  void* block = nullptr;
  if (size == 0) size = 1;
  if (posix_memalign(&block, alignment, size) != 0) return nullptr;
  note_allocated(block);
  return block;
}

void* new_or_throw(std::size_t size) {
  for (;;) {
    if (void* block = counted_malloc(size == 0 ? 1 : size)) return block;
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) throw std::bad_alloc();
    handler();
  }
}

void* aligned_new_or_throw(std::size_t size, std::size_t alignment) {
  if (void* block = aligned_block(size, alignment)) return block;
  throw std::bad_alloc();
}

void* openssl_malloc(std::size_t size, const char*, int) { return counted_malloc(size); }
void* openssl_realloc(void* block, std::size_t size, const char*, int) { return counted_realloc(block, size); }
void openssl_free(void* block, const char*, int) { counted_free(block); }

}  // namespace

protocol charged_protocol() noexcept { return charged; }

allocations_of::allocations_of(protocol p) noexcept : previous_(charged) { charged = p; }

allocations_of::~allocations_of() { charged = previous_; }

void* counted_malloc(std::size_t size) noexcept {
  void* block = std::malloc(size);
  if (block != nullptr) note_allocated(block);
  return block;
}

void* counted_calloc(std::size_t count, std::size_t size) noexcept {
  void* block = std::calloc(count, size);
  if (block != nullptr) note_allocated(block);
  return block;
}

void* counted_realloc(void* block, std::size_t size) noexcept {
  if (block == nullptr) return counted_malloc(size);
  if (size == 0) {
    counted_free(block);
    return nullptr;
  }
  const auto old_size = static_cast<std::int64_t>(malloc_usable_size(block));
  void* moved = std::realloc(block, size);
  if (moved == nullptr) return nullptr;
  add(counter::live_heap_bytes, static_cast<std::int64_t>(malloc_usable_size(moved)) - old_size);
  return moved;
}

void counted_free(void* block) noexcept {
  if (block == nullptr) return;
  note_freed(block);
  std::free(block);
}

bool install_openssl_hooks() noexcept {
  return CRYPTO_set_mem_functions(openssl_malloc, openssl_realloc, openssl_free) == 1;
}

}  // namespace memgate::metrics

// Replacing the global operators routes every C++ allocation through the count.
void* operator new(std::size_t size) { return memgate::metrics::new_or_throw(size); }
void* operator new[](std::size_t size) { return memgate::metrics::new_or_throw(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return memgate::metrics::counted_malloc(size == 0 ? 1 : size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return memgate::metrics::counted_malloc(size == 0 ? 1 : size); }
void* operator new(std::size_t size, std::align_val_t align) { return memgate::metrics::aligned_new_or_throw(size, static_cast<std::size_t>(align)); }
void* operator new[](std::size_t size, std::align_val_t align) { return memgate::metrics::aligned_new_or_throw(size, static_cast<std::size_t>(align)); }
void* operator new(std::size_t size, std::align_val_t align, const std::nothrow_t&) noexcept { return memgate::metrics::aligned_block(size, static_cast<std::size_t>(align)); }
void* operator new[](std::size_t size, std::align_val_t align, const std::nothrow_t&) noexcept { return memgate::metrics::aligned_block(size, static_cast<std::size_t>(align)); }
void operator delete(void* block) noexcept { memgate::metrics::counted_free(block); }
void operator delete[](void* block) noexcept { memgate::metrics::counted_free(block); }
void operator delete(void* block, std::size_t) noexcept { memgate::metrics::counted_free(block); }
void operator delete[](void* block, std::size_t) noexcept { memgate::metrics::counted_free(block); }
void operator delete(void* block, const std::nothrow_t&) noexcept { memgate::metrics::counted_free(block); }
void operator delete[](void* block, const std::nothrow_t&) noexcept { memgate::metrics::counted_free(block); }
void operator delete(void* block, std::align_val_t) noexcept { memgate::metrics::counted_free(block); }
void operator delete[](void* block, std::align_val_t) noexcept { memgate::metrics::counted_free(block); }
void operator delete(void* block, std::size_t, std::align_val_t) noexcept { memgate::metrics::counted_free(block); }
void operator delete[](void* block, std::size_t, std::align_val_t) noexcept { memgate::metrics::counted_free(block); }
void operator delete(void* block, std::align_val_t, const std::nothrow_t&) noexcept { memgate::metrics::counted_free(block); }
void operator delete[](void* block, std::align_val_t, const std::nothrow_t&) noexcept { memgate::metrics::counted_free(block); }
