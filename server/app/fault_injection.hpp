#pragma once
#include <cstddef>

namespace memgate::app {

// --inject-leak*: allocates, touches and drops `bytes` of heap, so the leak shows in
// live heap and RSS alike. The one site sanitizer suppressions name.
void leak_heap_bytes(std::size_t bytes);

}  // namespace memgate::app
