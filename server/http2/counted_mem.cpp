#include "http2/counted_mem.hpp"

#include "metrics/heap_accounting.hpp"

namespace memgate::http2 {
namespace {

void* counted_nghttp2_malloc(std::size_t size, void*) { return metrics::counted_malloc(size); }
void counted_nghttp2_free(void* block, void*) { metrics::counted_free(block); }
void* counted_nghttp2_calloc(std::size_t count, std::size_t size, void*) { return metrics::counted_calloc(count, size); }
void* counted_nghttp2_realloc(void* block, std::size_t size, void*) { return metrics::counted_realloc(block, size); }

}  // namespace

nghttp2_mem* counted_mem() noexcept {
  static nghttp2_mem mem{nullptr, counted_nghttp2_malloc, counted_nghttp2_free, counted_nghttp2_calloc,
                         counted_nghttp2_realloc};
  return &mem;
}

}  // namespace memgate::http2
