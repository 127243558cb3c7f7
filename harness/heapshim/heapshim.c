/* The interposed malloc family: on top of whatever malloc the process loads, each block counted
 * at the underlying allocator's usable size. The shim preloads it into a target; refserver links
 * it into its executable, whose definitions come first in symbol lookup too. Design and limits:
 * README.md.
 *
 * Nothing here may allocate through the interposed functions on the counting path, and nothing
 * may take a lock there: the counts go to the calling thread's own slot (counters.h).
 */
#define _GNU_SOURCE
#include "heapshim.h"

#include "counters.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

/* ---- the allocator underneath ---- */

typedef void* (*malloc_fn)(size_t);
typedef void* (*calloc_fn)(size_t, size_t);
typedef void* (*realloc_fn)(void*, size_t);
typedef void (*free_fn)(void*);
typedef size_t (*usable_size_fn)(void*);
typedef int (*posix_memalign_fn)(void**, size_t, size_t);
typedef void* (*aligned_fn)(size_t, size_t);
typedef void* (*page_aligned_fn)(size_t);

static struct {
  malloc_fn malloc;
  calloc_fn calloc;
  realloc_fn realloc;
  free_fn free;
  usable_size_fn usable_size;
  posix_memalign_fn posix_memalign;
  /* NULL when the object providing malloc lacks them (jemalloc has no pvalloc): the glibc
   * function RTLD_NEXT would find instead allocates from another heap than free() frees to. */
  aligned_fn aligned_alloc;
  aligned_fn memalign;
  page_aligned_fn valloc;
  page_aligned_fn pvalloc;
} next;

static _Atomic int resolved;
static HEAPSHIM_THREAD_LOCAL int resolving; /* dlsym may calloc: those calls get the bootstrap buffer */

/* dlsym's own allocations, made before next.* is known; never freed, never reused. */
enum { bootstrap_capacity = 64 * 1024, bootstrap_header = 16 };
static _Alignas(16) char bootstrap[bootstrap_capacity];
static _Atomic size_t bootstrap_used;

static void* bootstrap_alloc(size_t size) {
  const size_t need = bootstrap_header + ((size + 15) & ~(size_t)15);
  const size_t at = atomic_fetch_add(&bootstrap_used, need);
  if (at + need > bootstrap_capacity) return NULL;
  memcpy(bootstrap + at, &size, sizeof size);
  return bootstrap + at + bootstrap_header;
}

static int in_bootstrap(const void* block) {
  return (const char*)block >= bootstrap && (const char*)block < bootstrap + bootstrap_capacity;
}

static size_t bootstrap_size(const void* block) {
  size_t size;
  memcpy(&size, (const char*)block - bootstrap_header, sizeof size);
  return size;
}

typedef heapshim_function any_function;

static any_function next_symbol(const char* name) {
  resolving = 1;
  void* symbol = dlsym(RTLD_NEXT, name);
  resolving = 0;
  return heapshim_as_function(symbol);
}

heapshim_function heapshim_next_symbol(const char* name) { return next_symbol(name); }

int heapshim_beside_malloc(any_function symbol) {
  Dl_info of_malloc, of_symbol;
  return symbol && dladdr(heapshim_as_object((any_function)next.malloc), &of_malloc) && dladdr(heapshim_as_object(symbol), &of_symbol) &&
         of_malloc.dli_fbase == of_symbol.dli_fbase;
}

/* The symbol, if the object that provides malloc provides it too. */
static any_function next_symbol_beside_malloc(const char* name) {
  any_function symbol = next_symbol(name);
  return heapshim_beside_malloc(symbol) ? symbol : NULL;
}

static _Atomic int setup_started;

/* glibc's malloc_usable_size also reads the next chunk's header (an in-use check that cannot fail
 * for a block the caller holds): a cache miss that was ~2 % of a busy refserver's CPU (h2c, 1 KiB
 * bodies). The same figure is in the block's own header, which the caller has just touched: the
 * chunk size (its low 3 bits are flags) less the 8-byte size field, or less 16 for an mmapped chunk
 * (flag 2). Read there only when malloc is glibc's and the header agrees with malloc_usable_size on
 * probe blocks from the arena and from mmap. */
static _Atomic int usable_from_glibc_header;

static inline int64_t glibc_header_usable(const void* block) {
  size_t header;
  memcpy(&header, (const char*)block - sizeof header, sizeof header);
  return (int64_t)((header & ~(size_t)7) - (header & 2 ? 2 : 1) * sizeof header);
}

/* Probe sizes below glibc's initial mmap threshold (128 KiB) and one above its dynamic maximum
 * (32 MiB), whose free does not move the threshold: probing leaves the allocator as it was. */
static int glibc_header_agrees(void) {
  static const size_t probe_sizes[] = {1, 24, 100, 1000, 5000, 70000, (size_t)64 << 20};
  int agrees = 1;
  for (size_t i = 0; i < sizeof probe_sizes / sizeof probe_sizes[0]; ++i) {
    void* block = next.malloc(probe_sizes[i]);
    if (!block) return 0;
    agrees &= glibc_header_usable(block) == (int64_t)next.usable_size(block);
    next.free(block);
  }
  return agrees;
}

/* Idempotent: two threads racing here at start store the same symbols. */
static void resolve(void) {
  next.malloc = (malloc_fn)next_symbol("malloc");
  next.calloc = (calloc_fn)next_symbol("calloc");
  next.realloc = (realloc_fn)next_symbol("realloc");
  next.free = (free_fn)next_symbol("free");
  next.usable_size = (usable_size_fn)next_symbol("malloc_usable_size");
  next.posix_memalign = (posix_memalign_fn)next_symbol("posix_memalign");
  next.aligned_alloc = (aligned_fn)next_symbol_beside_malloc("aligned_alloc");
  next.memalign = (aligned_fn)next_symbol_beside_malloc("memalign");
  next.valloc = (page_aligned_fn)next_symbol_beside_malloc("valloc");
  next.pvalloc = (page_aligned_fn)next_symbol_beside_malloc("pvalloc");
  if (!next.malloc || !next.calloc || !next.realloc || !next.free || !next.usable_size || !next.posix_memalign) {
    static const char message[] = "memgate heapshim: no underlying malloc family found\n";
    (void)!write(2, message, sizeof message - 1);
    _exit(127);
  }
  if (atomic_exchange(&setup_started, 1) == 0) {
    /* The allocator initialises (jemalloc registers its fork handlers) before ours are registered:
     * then its child handler has unlocked its arenas when ours starts the child's control thread. */
    next.free(next.malloc(1));
    if (next_symbol_beside_malloc("gnu_get_libc_version") && glibc_header_agrees()) {
      atomic_store_explicit(&usable_from_glibc_header, 1, memory_order_relaxed);
    }
    /* May malloc: that call resolves again (resolved is still 0), harmlessly. */
    heapshim_counters_setup();
  }
  atomic_store_explicit(&resolved, 1, memory_order_release);
}

static inline void ensure_resolved(void) {
  if (__builtin_expect(!atomic_load_explicit(&resolved, memory_order_acquire), 0)) resolve();
}

/* ---- counting ---- */

static inline int64_t usable(void* block) {
  return atomic_load_explicit(&usable_from_glibc_header, memory_order_relaxed) ? glibc_header_usable(block)
                                                                                : (int64_t)next.usable_size(block);
}
static inline void note_allocated(void* block) { heapshim_note_allocated(usable(block)); }
static inline void note_freeing(void* block) { heapshim_note_freed(usable(block)); }

void heapshim_count_allocated(void* block) { note_allocated(block); }

int64_t heapshim_usable_size(void* block) {
  ensure_resolved();
  return usable(block);
}

void heapshim_count_freed(int64_t usable_size) { heapshim_note_freed(usable_size); }

heapshim_function heapshim_next_malloc(void) {
  ensure_resolved();
  return (any_function)next.malloc;
}

void heapshim_ensure_resolved(void) { ensure_resolved(); }

/* ---- the interposed functions ---- */

EXPORT void* malloc(size_t size) {
  if (__builtin_expect(resolving, 0)) return bootstrap_alloc(size);
  ensure_resolved();
  void* block = next.malloc(size);
  if (block) note_allocated(block);
  return block;
}

EXPORT void* calloc(size_t count, size_t size) {
  if (__builtin_expect(resolving, 0)) {
    size_t total;
    return __builtin_mul_overflow(count, size, &total) ? NULL : bootstrap_alloc(total);
  }
  ensure_resolved();
  void* block = next.calloc(count, size);
  if (block) note_allocated(block);
  return block;
}

EXPORT void free(void* block) {
  if (!block || in_bootstrap(block)) return;
  ensure_resolved();
  note_freeing(block);
  next.free(block);
}

EXPORT void* realloc(void* block, size_t size) {
  if (__builtin_expect(resolving, 0) && !block) return bootstrap_alloc(size);
  if (!block) return malloc(size);
  if (in_bootstrap(block)) {
    void* moved = malloc(size);
    const size_t old_size = bootstrap_size(block);
    if (moved) memcpy(moved, block, old_size < size ? old_size : size);
    return moved;
  }
  ensure_resolved();
  const int64_t old_size = usable(block);
  void* moved = next.realloc(block, size);
  if (moved) {
    heapshim_note_resized(old_size, usable(moved));
  } else if (size == 0) { /* glibc frees and returns NULL; a failed realloc returns NULL for size > 0 */
    heapshim_note_freed(old_size);
  }
  return moved;
}

/* The process's own malloc when this is the first definition of it (preload.c compares). */
void* heapshim_own_malloc(size_t) __attribute__((alias("malloc")));

/* Ours on top of realloc: jemalloc has none, and glibc's would find a realloc of its own choosing. */
EXPORT void* reallocarray(void* block, size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  return realloc(block, total);
}

EXPORT int posix_memalign(void** out, size_t alignment, size_t size) {
  ensure_resolved();
  const int rc = next.posix_memalign(out, alignment, size);
  if (rc == 0 && *out) note_allocated(*out);
  return rc;
}

static void* aligned_by_posix_memalign(size_t alignment, size_t size) {
  size_t power = sizeof(void*);
  while (power < alignment) power <<= 1;
  void* block = NULL;
  const int rc = next.posix_memalign(&block, power, size);
  if (rc != 0) {
    errno = rc;
    return NULL;
  }
  return block;
}

static size_t page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }

EXPORT void* aligned_alloc(size_t alignment, size_t size) {
  ensure_resolved();
  void* block = next.aligned_alloc ? next.aligned_alloc(alignment, size) : aligned_by_posix_memalign(alignment, size);
  if (block) note_allocated(block);
  return block;
}

EXPORT void* memalign(size_t alignment, size_t size) {
  ensure_resolved();
  void* block = next.memalign ? next.memalign(alignment, size) : aligned_by_posix_memalign(alignment, size);
  if (block) note_allocated(block);
  return block;
}

EXPORT void* valloc(size_t size) {
  ensure_resolved();
  void* block = next.valloc ? next.valloc(size) : aligned_by_posix_memalign(page_size(), size);
  if (block) note_allocated(block);
  return block;
}

EXPORT void* pvalloc(size_t size) {
  ensure_resolved();
  const size_t page = page_size();
  void* block = next.pvalloc ? next.pvalloc(size) : aligned_by_posix_memalign(page, (size + page - 1) & ~(page - 1));
  if (block) note_allocated(block);
  return block;
}
