#pragma once
// memgate's own count of live heap bytes, identical under every allocator: every
// block allocated through C++ new/delete, nghttp2 (nghttp2_mem) and OpenSSL
// (CRYPTO_set_mem_functions) is counted at its usable size (malloc_usable_size of
// the linked allocator). Allocations libc makes for itself are not counted.
#include <nghttp2/nghttp2.h>

#include <cstddef>

namespace memgate::metrics {

void* counted_malloc(std::size_t size) noexcept;
void* counted_calloc(std::size_t count, std::size_t size) noexcept;
void* counted_realloc(void* block, std::size_t size) noexcept;
void counted_free(void* block) noexcept;

// The allocator handed to every nghttp2 session.
nghttp2_mem* counted_nghttp2_mem() noexcept;

// Must run before OpenSSL allocates anything (first thing in main).
bool install_openssl_hooks() noexcept;

}  // namespace memgate::metrics
