#pragma once
#include "config/config.hpp"

#include <cstddef>

namespace memgate::app {

// --inject-leak*: allocates (operator new or plain malloc), touches and drops `bytes` of
// heap, so the leak shows in live heap and RSS alike. The one site sanitizer suppressions name.
void leak_heap_bytes(std::size_t bytes, leak_via via);

// --inject-copy: copies `bytes` of the body pattern into a fresh heap buffer and frees it, counted
// in bytes_copied like the buffered strategy's copies: a copy regression of any size, on any endpoint.
void copy_body_bytes(std::size_t bytes);

}  // namespace memgate::app
