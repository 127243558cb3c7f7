/* The heap shim's per-thread counters: the fast path, inlined into the interposed functions.
 * A thread claims its slot once, under a lock (counters.c); from then on only that thread writes
 * it, with plain relaxed loads and stores, and a reader sums all slots. Threads past max_slots
 * share the overflow slot, which takes locked adds. */
#ifndef MEMGATE_HEAPSHIM_COUNTERS_H
#define MEMGATE_HEAPSHIM_COUNTERS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "live_heap.h"

/* initial-exec: a dynamic TLS access may itself call malloc. */
#define HEAPSHIM_THREAD_LOCAL __thread __attribute__((tls_model("initial-exec")))

/* Within the library only: direct accesses, not through the GOT. */
#pragma GCC visibility push(hidden)

struct heapshim_slot {
  _Atomic int64_t live_bytes;
  _Atomic int64_t allocations;
  _Atomic int64_t deallocations;
  _Atomic int64_t allocated_bytes;
  _Atomic int64_t charged_allocations[heapshim_charges];
  _Atomic int64_t charged_allocated_bytes[heapshim_charges];
  int in_use; /* under the registry lock */
} __attribute__((aligned(64)));

extern struct heapshim_slot heapshim_overflow_slot;
extern HEAPSHIM_THREAD_LOCAL struct heapshim_slot* heapshim_this_slot;
extern _Atomic int heapshim_seen_allocations;
/* What this thread's allocations are charged to (live_heap.h). */
extern HEAPSHIM_THREAD_LOCAL int heapshim_charged;
/* Set by every count this thread makes (see cxx_operators.c). */
extern HEAPSHIM_THREAD_LOCAL int heapshim_counted_in_call;

struct heapshim_slot* heapshim_claim_slot(void);
/* Once, before the first count (or as early as the feed can): the thread-exit key and the fork
 * handler that gives a child its own counters. */
void heapshim_counters_setup(void);

static inline void heapshim_add(struct heapshim_slot* s, _Atomic int64_t* value, int64_t amount) {
  if (__builtin_expect(s == &heapshim_overflow_slot, 0)) {
    atomic_fetch_add_explicit(value, amount, memory_order_relaxed);
  } else {
    atomic_store_explicit(value, atomic_load_explicit(value, memory_order_relaxed) + amount, memory_order_relaxed);
  }
}

static inline struct heapshim_slot* heapshim_my_slot(void) {
  struct heapshim_slot* s = heapshim_this_slot;
  heapshim_counted_in_call = 1;
  return __builtin_expect(s != NULL, 1) ? s : heapshim_claim_slot();
}

static inline void heapshim_note_allocated(int64_t usable_size) {
  struct heapshim_slot* s = heapshim_my_slot();
  heapshim_add(s, &s->live_bytes, usable_size);
  heapshim_add(s, &s->allocations, 1);
  heapshim_add(s, &s->allocated_bytes, usable_size);
  const int charged = heapshim_charged;
  if (charged != heapshim_charge_none) {
    heapshim_add(s, &s->charged_allocations[charged - 1], 1);
    heapshim_add(s, &s->charged_allocated_bytes[charged - 1], usable_size);
  }
  if (__builtin_expect(!atomic_load_explicit(&heapshim_seen_allocations, memory_order_relaxed), 0)) {
    atomic_store_explicit(&heapshim_seen_allocations, 1, memory_order_relaxed);
  }
}

static inline void heapshim_note_freed(int64_t usable_size) {
  struct heapshim_slot* s = heapshim_my_slot();
  heapshim_add(s, &s->live_bytes, -usable_size);
  heapshim_add(s, &s->deallocations, 1);
}

/* A realloc changes a block's size: live bytes only, neither an allocation nor a free. */
static inline void heapshim_note_resized(int64_t old_usable_size, int64_t new_usable_size) {
  struct heapshim_slot* s = heapshim_my_slot();
  heapshim_add(s, &s->live_bytes, new_usable_size - old_usable_size);
}

#pragma GCC visibility pop

#endif
