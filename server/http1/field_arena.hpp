#pragma once
// Where a request's parsed header lives. Beast's fields take an element per field and a
// buffer for the request line from their allocator: from the heap that was four or five
// allocations per request. Here they come from one block, taken from the thread's free
// lists (pool/free_lists.hpp) when the request's header begins and given back whole once the
// request is complete, so a steady stream of requests allocates nothing, and a connection
// between requests (an idle keep-alive one, or one writing a long response) holds no block.
// What does not fit in the block (a header near --max-header-bytes) comes from the heap,
// allocation by allocation.
#include <cstddef>

namespace memgate::http1 {

class field_arena {
 public:
  field_arena() = default;
  ~field_arena() { release(); }
  field_arena(const field_arena&) = delete;
  field_arena& operator=(const field_arena&) = delete;

  void* allocate(std::size_t bytes, std::size_t alignment);
  void deallocate(void* pointer, std::size_t bytes, std::size_t alignment) noexcept;
  // Call once nothing allocated here is in use (the parser is gone): the block goes back to
  // this thread's free lists.
  void release() noexcept;

 private:
  std::byte* block_ = nullptr;
  std::size_t used_ = 0;
};

// The standard allocator interface Beast's basic_fields takes, over one arena.
template <typename T>
class field_allocator {
 public:
  using value_type = T;

  explicit field_allocator(field_arena& arena) noexcept : arena_(&arena) {}
  template <typename U>
  field_allocator(const field_allocator<U>& other) noexcept : arena_(other.arena_) {}

  T* allocate(std::size_t count) { return static_cast<T*>(arena_->allocate(count * sizeof(T), alignof(T))); }
  void deallocate(T* pointer, std::size_t count) noexcept { arena_->deallocate(pointer, count * sizeof(T), alignof(T)); }

  template <typename U>
  bool operator==(const field_allocator<U>& other) const noexcept {
    return arena_ == other.arena_;
  }

 private:
  template <typename>
  friend class field_allocator;
  field_arena* arena_;
};

}  // namespace memgate::http1
