#pragma once
// nghttp2's memory for one session (nghttp2_mem). Each request makes nghttp2 allocate the
// same few small blocks (its stream, the HEADERS and DATA items, the copied response
// headers) and free them when the stream closes; kept on per-size free lists, they are
// handed out again, so a connection in steady state allocates nothing per stream. What is
// kept is bounded (max_kept_bytes); larger blocks go straight to malloc, which also feeds
// the lists, so every block is counted by the allocator's counters when first made.
#include <nghttp2/nghttp2.h>

#include <array>
#include <cstddef>

namespace memgate::http2 {

class block_pool {
 public:
  // Free blocks kept per session, whatever the peer's peak concurrency was.
  static constexpr std::size_t max_kept_bytes = 32 * 1024;
  // The largest block the lists hold; nghttp2's buffers and tables above it are rare.
  static constexpr std::size_t max_pooled_bytes = 2048;
  // 64 B .. max_pooled_bytes, four classes per doubling: a block that lives as long as the
  // session (HPACK tables, settings) wastes at most a quarter of its size.
  static constexpr std::size_t class_count = 21;

  block_pool();
  ~block_pool();
  block_pool(const block_pool&) = delete;
  block_pool& operator=(const block_pool&) = delete;

  // Outlives every block nghttp2 holds: pass to nghttp2_session_server_new3, delete the
  // session before the pool.
  nghttp2_mem* mem() { return &mem_; }
  std::size_t kept_bytes() const { return kept_bytes_; }

  void* allocate(std::size_t size);
  void release(void* block);
  void* reallocate(void* block, std::size_t size);

 private:
  struct free_block {
    free_block* next;
  };

  nghttp2_mem mem_;
  std::array<free_block*, class_count> free_{};
  std::size_t kept_bytes_ = 0;
};

}  // namespace memgate::http2
