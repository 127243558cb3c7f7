#pragma once
// memgate's own count of live heap bytes, identical under every allocator: every
// block allocated through C++ new/delete, nghttp2 (http2/counted_mem.hpp) and OpenSSL
// (CRYPTO_set_mem_functions) is counted at its usable size (malloc_usable_size of
// the linked allocator). Allocations libc makes for itself are not counted.
#include <cstddef>

namespace memgate::metrics {

void* counted_malloc(std::size_t size) noexcept;
void* counted_calloc(std::size_t count, std::size_t size) noexcept;
void* counted_realloc(void* block, std::size_t size) noexcept;
void counted_free(void* block) noexcept;

// Must run before OpenSSL allocates anything (first thing in main).
bool install_openssl_hooks() noexcept;

}  // namespace memgate::metrics
