#pragma once
// Free blocks kept per thread for whatever that thread makes again: a request's HTTP/1.1
// header fields, nghttp2's blocks for a stream, an HTTP/2 stream's state. Each request frees
// and makes the same few sizes, so a steady stream of requests allocates nothing. Kept per
// thread rather than per connection: a connection between requests (an idle keep-alive one)
// holds no free block, and what a thread keeps is bounded (kept_bytes_per_thread_max) however
// many connections it serves. No lock: a connection lives on one thread. A block may still be
// given back on another thread than the one that made it (a session destroyed with its
// io_context, after its worker stopped): blocks are plain malloc blocks owned by no thread, so
// it joins that thread's lists. Each block is made by malloc, so memgate's allocation counters
// count it once, when first made; a thread's lists are freed when it exits.
#include <cstddef>
#include <memory>
#include <new>
#include <utility>

namespace memgate::pool {

// Sizes up to this are kept, rounded up to a multiple of 16 bytes.
inline constexpr std::size_t largest_block_bytes = 2048;
// Enough for the blocks of every stream in flight on a thread under the default load (four
// connections of ten streams), a small constant beside what the connections themselves hold.
inline constexpr std::size_t kept_bytes_per_thread_max = 128 * 1024;

// The usable size of a block taken for `bytes` (at most largest_block_bytes).
std::size_t block_capacity(std::size_t bytes) noexcept;
// A block of block_capacity(bytes) from this thread's lists, else from malloc; nullptr when
// malloc fails.
void* take(std::size_t bytes) noexcept;
// `bytes` as taken. Kept while the thread keeps less than kept_bytes_per_thread_max, else freed.
void give_back(void* block, std::size_t bytes) noexcept;
std::size_t this_thread_kept_bytes() noexcept;
// Frees every block this thread keeps (the forced trim's step for this cache).
void release_this_thread() noexcept;

// An object made in a kept block, its block given back when it is destroyed.
template <typename T>
struct give_back_object {
  void operator()(T* object) const noexcept {
    object->~T();
    give_back(object, sizeof(T));
  }
};
template <typename T>
using object = std::unique_ptr<T, give_back_object<T>>;

template <typename T, typename... Args>
object<T> make(Args&&... args) {
  static_assert(sizeof(T) <= largest_block_bytes && alignof(T) <= alignof(std::max_align_t));
  void* block = take(sizeof(T));
  if (block == nullptr) throw std::bad_alloc();
  try {
    return object<T>(::new (block) T(std::forward<Args>(args)...));
  } catch (...) {
    give_back(block, sizeof(T));
    throw;
  }
}

}  // namespace memgate::pool
