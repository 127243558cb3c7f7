/* The counting core's feed in a sanitizer build. ASan and TSan own malloc (their runtimes define
 * the malloc family and operator new), so nothing may be interposed in front of them; instead their
 * allocator calls these hooks on every block it hands out and takes back, operator new and
 * realloc included. The sanitizer is then the allocator underneath: a block counts at its usable
 * size there (__sanitizer_get_allocated_size, the size asked for). A realloc arrives as a new
 * block and a freed one, so it also counts one allocation and one deallocation. */
#include "counters.h"

#include <stddef.h>

/* The runtimes' allocator interface, declared here: clang ships it as sanitizer/allocator_interface.h,
 * gcc does not ship that header. */
size_t __sanitizer_get_allocated_size(const volatile void* block);
void __sanitizer_malloc_hook(const volatile void* block, size_t size);
void __sanitizer_free_hook(const volatile void* block);

/* Weak in the runtime, defined here: called from the very first allocation on. */
__attribute__((visibility("default"))) void __sanitizer_malloc_hook(const volatile void* block, size_t size) {
  (void)size;
  heapshim_note_allocated((int64_t)__sanitizer_get_allocated_size(block));
}

__attribute__((visibility("default"))) void __sanitizer_free_hook(const volatile void* block) {
  if (block) heapshim_note_freed((int64_t)__sanitizer_get_allocated_size(block));
}

__attribute__((constructor)) static void sanitizer_feed_setup(void) { heapshim_counters_setup(); }
