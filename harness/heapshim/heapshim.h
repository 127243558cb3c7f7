/* What the parts of the heap shim share. The counting core, which refserver links too: counters.c
 * (the counters), heapshim.c (the interposed malloc family), cxx_operators.c (operator new and
 * delete). Only in the preloaded library: preload.c (the allocator underneath, start-up and fork)
 * and control.c (the channel). README.md. */
#ifndef MEMGATE_HEAPSHIM_H
#define MEMGATE_HEAPSHIM_H

#include "live_heap.h"

#include <stddef.h>
#include <stdint.h>

/* For cxx_operators.c, which forwards operator new and delete. libstdc++'s call malloc and free,
 * which count them; jemalloc's and mimalloc's call into their allocator, sometimes through the
 * interposed functions and sometimes not, so the operator counts what no interposed function did
 * during the call (heapshim_counted_in_call, counters.h). */
typedef void (*heapshim_function)(void);
heapshim_function heapshim_next_symbol(const char* name);
int heapshim_beside_malloc(heapshim_function symbol); /* defined by the object that provides malloc */
void heapshim_count_allocated(void* block);
int64_t heapshim_usable_size(void* block);
void heapshim_count_freed(int64_t usable_size);

/* The object the interposed functions forward to, and this library's own malloc (where a plain
 * &malloc would find the process's first). */
heapshim_function heapshim_next_malloc(void);
void* heapshim_own_malloc(size_t size);
/* Resolves the allocator underneath now, if no allocation has yet. */
void heapshim_ensure_resolved(void);

/* dlsym answers an object pointer; POSIX guarantees that it converts to a function pointer. */
static inline heapshim_function heapshim_as_function(void* symbol) {
  union {
    void* object;
    heapshim_function function;
  } address = {.object = symbol};
  return address.function;
}
static inline void* heapshim_as_object(heapshim_function function) {
  union {
    heapshim_function function;
    void* object;
  } address = {.function = function};
  return address.object;
}

/* The allocator the interposed functions forward to, and how to make it give memory back. */
struct heapshim_allocator {
  const char* name;        /* glibc, jemalloc, mimalloc or unknown */
  const char* trim_method; /* e.g. "malloc_trim(0)", or "none" */
  const char* malloc_from; /* path of the object whose malloc the shim calls */
  void (*trim)(void);      /* NULL when trim_method is "none" */
};

/* Found once, by the control thread, before it answers anything (preload.c). */
void heapshim_detect_allocator(struct heapshim_allocator* out);

/* The channel (control.c): binds <MEMGATE_SHIM_DIR>/<pid>.sock and starts the thread that answers
 * on it. Called at load and in the child after each fork (preload.c); does nothing without
 * MEMGATE_SHIM_DIR. */
void heapshim_control_start(void);
/* In the child after a fork: the parent's listening socket is not ours to serve. */
void heapshim_control_forget_parent(void);
/* At exit: removes this process's socket file. */
void heapshim_control_stop(void);

#endif
