/* Live heap, as memgate counts it in every process it measures: the heap shim preloaded into a
 * target, and refserver, which links the same counting objects into its executable (README.md).
 * The one header C++ includes: plain C, no atomics. */
#ifndef MEMGATE_HEAPSHIM_LIVE_HEAP_H
#define MEMGATE_HEAPSHIM_LIVE_HEAP_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A caller may charge its thread's allocations to one of these tags (refserver: h1, h2). */
enum { heapshim_charge_none = 0, heapshim_charges = 2 };

/* What one process's counters add up to now. */
struct heapshim_totals {
  int64_t live_bytes;           /* usable bytes of blocks live now, inherited ones included */
  int64_t inherited_live_bytes; /* live_bytes at the fork that made this process (0 after exec) */
  int64_t allocations;          /* since this process began (fork or exec) */
  int64_t deallocations;
  int64_t allocated_bytes;      /* usable bytes handed out since this process began */
  /* The part of allocations and allocated_bytes made while tag i + 1 was charged. */
  int64_t charged_allocations[heapshim_charges];
  int64_t charged_allocated_bytes[heapshim_charges];
  int seen_allocations; /* this process or a forked ancestor ever came through the counting */
};

/* 1 when the counting core is linked; 0 in a binary linked with its stand-in that counts nothing
 * (uncounted.c), whose totals are all zero and not a measurement. */
int heapshim_counts_allocations(void);
void heapshim_read_totals(struct heapshim_totals* out);

/* The calling thread's charge: heapshim_charge_none, or a tag from 1 to heapshim_charges. */
int heapshim_charge(void);
void heapshim_set_charge(int tag);

#ifdef __cplusplus
}
#endif

#endif
