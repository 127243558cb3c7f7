/* What only the preloaded library does: find the allocator underneath (for the channel's answers
 * and its trim), start the channel at load, and give each forked child a channel of its own. The
 * counting itself is the core refserver links too (heapshim.h). */
#define _GNU_SOURCE
#include "heapshim.h"

#include "counters.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

static int (*found_malloc_trim)(size_t);
static int (*found_mallctl)(const char*, void*, size_t*, void*, size_t);
static void (*found_mi_collect)(int);

static void trim_glibc(void) { found_malloc_trim(0); }

/* 4096 is MALLCTL_ARENAS_ALL: every arena's dirty and muzzy pages go back to the OS. */
static void trim_jemalloc(void) { found_mallctl("arena.4096.purge", NULL, NULL, NULL, 0); }

static void trim_mimalloc(void) { found_mi_collect(1); }

/* NAME as the process sees it, if the object that provides the shim's next malloc defines it. */
static heapshim_function beside_malloc(const char* name, const Dl_info* of_malloc) {
  Dl_info info;
  void* symbol = dlsym(RTLD_DEFAULT, name);
  return symbol && dladdr(symbol, &info) && info.dli_fbase == of_malloc->dli_fbase ? heapshim_as_function(symbol) : NULL;
}

void heapshim_detect_allocator(struct heapshim_allocator* out) {
  Dl_info of_malloc;
  *out = (struct heapshim_allocator){"unknown", "none", "", NULL};
  void* process_malloc = dlsym(RTLD_DEFAULT, "malloc");
  /* Another malloc comes first. Either it forwards to ours (refserver's, which counts the same
   * way), and allocations reach the shim; or it is an allocator linked into the executable, and
   * nothing does. */
  if (process_malloc != heapshim_as_object((heapshim_function)heapshim_own_malloc) &&
      !atomic_load_explicit(&heapshim_seen_allocations, memory_order_relaxed)) {
    out->name = "not interposed";
    if (process_malloc && dladdr(process_malloc, &of_malloc) && of_malloc.dli_fname) out->malloc_from = of_malloc.dli_fname;
    return;
  }
  if (!dladdr(heapshim_as_object(heapshim_next_malloc()), &of_malloc)) return;
  out->malloc_from = of_malloc.dli_fname ? of_malloc.dli_fname : "";
  if ((found_mallctl = (int (*)(const char*, void*, size_t*, void*, size_t))beside_malloc("mallctl", &of_malloc))) {
    *out = (struct heapshim_allocator){"jemalloc", "arena.4096.purge", out->malloc_from, trim_jemalloc};
  } else if ((found_mi_collect = (void (*)(int))beside_malloc("mi_collect", &of_malloc))) {
    *out = (struct heapshim_allocator){"mimalloc", "mi_collect(true)", out->malloc_from, trim_mimalloc};
  } else if ((found_malloc_trim = (int (*)(size_t))beside_malloc("malloc_trim", &of_malloc))) {
    *out = (struct heapshim_allocator){"glibc", "malloc_trim(0)", out->malloc_from, trim_glibc};
  }
}

/* After the counters' own child handler (registered earlier, when the allocator was resolved):
 * the child's counters are its own before its channel answers for them. */
static void fork_child(void) {
  heapshim_control_forget_parent();
  heapshim_control_start();
}

__attribute__((constructor)) static void heapshim_load(void) {
  heapshim_ensure_resolved();
  pthread_atfork(NULL, NULL, fork_child);
  heapshim_control_start();
}

__attribute__((destructor)) static void heapshim_unload(void) { heapshim_control_stop(); }
