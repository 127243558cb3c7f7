#pragma once
// Live heap, the one measure memgate uses for every target: refserver links the heap shim's
// counting core (harness/heapshim/), which interposes the malloc family and operator new/delete
// in the executable and forwards each call to the linked allocator (glibc, jemalloc or mimalloc),
// counting every block at that allocator's usable size. So a plain malloc, strdup or realloc
// counts like a new, and so do nghttp2's and OpenSSL's blocks and libc's own.
#include <cstdint>

namespace memgate::metrics {

struct protocol_allocations {
  std::int64_t allocations = 0;
  std::int64_t allocated_bytes = 0;  // usable size, cumulative
};

struct live_heap {
  std::int64_t live_bytes = 0;       // usable bytes of the blocks live now
  std::int64_t allocations = 0;      // since start
  std::int64_t deallocations = 0;
  std::int64_t allocated_bytes = 0;  // usable bytes handed out since start, freed or not
  protocol_allocations h1, h2;       // the part made while that protocol's code ran (allocation_charge.hpp)
};

// False in refserver-glibc-uncounted, which links the counting core's stand-in that counts nothing
// (harness/heapshim/uncounted.c): there read_live_heap() is all zeros, not a measurement.
bool allocations_counted() noexcept;

// Sums every thread's counters: exact when the process is quiet, within the blocks in flight otherwise.
live_heap read_live_heap() noexcept;

}  // namespace memgate::metrics
