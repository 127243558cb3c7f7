#pragma once
// Objects made in blocks a session keeps: a stream's state is made for each request, and
// making it in the block the last closed stream left allocates nothing. At most
// `max_kept` free blocks are kept (the peak concurrency past that goes back to the heap);
// all go with the pool, which must outlive every object it made.
#include <cstddef>
#include <memory>
#include <new>
#include <utility>

namespace memgate::http2 {

template <typename T, std::size_t max_kept>
class object_pool {
 public:
  struct returner {
    object_pool* pool;
    void operator()(T* object) const { pool->destroy(object); }
  };
  using handle = std::unique_ptr<T, returner>;

  object_pool() = default;
  object_pool(const object_pool&) = delete;
  object_pool& operator=(const object_pool&) = delete;
  ~object_pool() {
    while (free_ != nullptr) ::operator delete(std::exchange(free_, free_->next));
  }

  template <typename... Args>
  handle make(Args&&... args) {
    void* block = free_ != nullptr ? take_free() : ::operator new(block_bytes);
    try {
      return handle(::new (block) T(std::forward<Args>(args)...), returner{this});
    } catch (...) {
      keep(block);
      throw;
    }
  }

  std::size_t kept() const { return kept_; }

 private:
  struct free_block {
    free_block* next;
  };
  static constexpr std::size_t block_bytes = sizeof(T) > sizeof(free_block) ? sizeof(T) : sizeof(free_block);
  static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);

  void* take_free() {
    --kept_;
    return std::exchange(free_, free_->next);
  }
  void keep(void* block) {
    if (kept_ == max_kept) return ::operator delete(block);
    free_ = ::new (block) free_block{free_};
    ++kept_;
  }
  void destroy(T* object) {
    object->~T();
    keep(object);
  }

  free_block* free_ = nullptr;
  std::size_t kept_ = 0;
};

}  // namespace memgate::http2
