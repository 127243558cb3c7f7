/* The two halves of the heap shim and what they share: heapshim.c interposes the allocation
 * functions and keeps the counters, control.c serves them over the channel (README.md). */
#ifndef MEMGATE_HEAPSHIM_H
#define MEMGATE_HEAPSHIM_H

#include <stdint.h>

/* What one process's counters add up to now. */
struct heapshim_totals {
  int64_t live_bytes;           /* usable bytes of blocks live now, inherited ones included */
  int64_t inherited_live_bytes; /* live_bytes at the fork that made this process (0 after exec) */
  int64_t allocations;          /* since this process began (fork or exec) */
  int64_t deallocations;
  int64_t allocated_bytes;      /* usable bytes handed out since this process began */
  int seen_allocations;         /* this process or a forked ancestor ever came through the shim */
};

void heapshim_read_totals(struct heapshim_totals* out);

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

/* The allocator the interposed functions forward to, and how to make it give memory back. */
struct heapshim_allocator {
  const char* name;        /* glibc, jemalloc, mimalloc or unknown */
  const char* trim_method; /* e.g. "malloc_trim(0)", or "none" */
  const char* malloc_from; /* path of the object whose malloc the shim calls */
  void (*trim)(void);      /* NULL when trim_method is "none" */
};

/* Found once, by the control thread, before it answers anything. */
void heapshim_detect_allocator(struct heapshim_allocator* out);

/* The channel (control.c): binds <MEMGATE_SHIM_DIR>/<pid>.sock and starts the thread that answers
 * on it. Called at load and in the child after each fork; does nothing without MEMGATE_SHIM_DIR. */
void heapshim_control_start(void);
/* In the child after a fork: the parent's listening socket is not ours to serve. */
void heapshim_control_forget_parent(void);
/* At exit: removes this process's socket file. */
void heapshim_control_stop(void);

#endif
