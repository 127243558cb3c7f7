#pragma once
// The allocator handed to every nghttp2 session (nghttp2_mem: four function pointers),
// routed through the heap accounting so nghttp2's blocks count like any other.
#include <nghttp2/nghttp2.h>

namespace memgate::http2 {

nghttp2_mem* counted_mem() noexcept;

}  // namespace memgate::http2
