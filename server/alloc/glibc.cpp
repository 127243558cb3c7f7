#include "alloc/allocator.hpp"

#include <gnu/libc-version.h>
#include <malloc.h>

namespace memgate::alloc {

std::string_view name() { return "glibc"; }

std::string version() { return gnu_get_libc_version(); }

// glibc has no call that empties a thread's tcache, and malloc_trim(0) already
// covers every arena whichever thread calls it: nothing to do per thread.
void trim_this_thread() {}

void trim_process() {
#if defined(MEMGATE_SANITIZER_OWNS_MALLOC)
  // The sanitizer's allocator stands in for glibc's, whose arenas were never set up.
#else
  malloc_trim(0);
#endif
}

boost::json::object native_stats() {
  const struct mallinfo2 info = mallinfo2();
  boost::json::object stats;
  stats["arena_bytes"] = info.arena;              // sbrk'd heap of the main arena
  stats["mmap_bytes"] = info.hblkhd;              // mmapped chunks
  stats["in_use_bytes"] = info.uordblks + info.hblkhd;
  stats["free_bytes"] = info.fordblks;
  stats["releasable_bytes"] = info.keepcost;
  return stats;
}

}  // namespace memgate::alloc
