/* The counting core's interface with nothing behind it: a binary linked with this object instead of
 * memgate_heap_counting interposes no malloc and counts nothing, so its allocations go straight to
 * the allocator it links. Only refserver-glibc-uncounted links it, for server/bench/counting_cost.sh,
 * which measures what the counting costs; its /mem says the counters are absent (it asks
 * heapshim_counts_allocations) rather than reporting zeros as if they were measured. */
#include "live_heap.h"

#include <string.h>

int heapshim_counts_allocations(void) { return 0; }

void heapshim_read_totals(struct heapshim_totals* out) { memset(out, 0, sizeof *out); }

int heapshim_charge(void) { return heapshim_charge_none; }

void heapshim_set_charge(int tag) { (void)tag; }
