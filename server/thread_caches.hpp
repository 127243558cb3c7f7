#pragma once
// The per-thread caches above the allocator: the free lists (pool/) and the read buffers
// (transport/). /mem's forced trim empties them on each worker before the allocator's own
// per-thread trim, so a trimmed live heap counts the objects the program holds, not what
// these caches keep for the next request, as for the allocator's thread caches.
#include "pool/free_lists.hpp"
#include "transport/pooled_read.hpp"

namespace memgate {

inline void release_thread_caches() noexcept {
  pool::release_this_thread();
  transport::thread_read_buffer::release_spares();
}

}  // namespace memgate
