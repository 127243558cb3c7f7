/* The heap shim's counter slots: claiming and releasing them, summing them, and what a fork does
 * to them. The fast path is in counters.h. */
#define _GNU_SOURCE
#include "counters.h"

#include <pthread.h>
#include <stddef.h>
#include <string.h>

/* Slots are reused after their thread exits, so this bounds concurrent threads, not threads ever. */
enum { max_slots = 1024 };
static struct heapshim_slot slots[max_slots];
struct heapshim_slot heapshim_overflow_slot;
static _Atomic size_t slots_high_water;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
HEAPSHIM_THREAD_LOCAL struct heapshim_slot* heapshim_this_slot;
static HEAPSHIM_THREAD_LOCAL int this_thread_exiting;
HEAPSHIM_THREAD_LOCAL int heapshim_counted_in_call;
HEAPSHIM_THREAD_LOCAL int heapshim_charged;
_Atomic int heapshim_seen_allocations;
/* Set in a forked child: what the parent's threads had live at the fork. */
static int64_t inherited_live_bytes;
static pthread_key_t slot_key;
static _Atomic int slot_key_ready;

struct heapshim_slot* heapshim_claim_slot(void) {
  if (this_thread_exiting) return &heapshim_overflow_slot;
  struct heapshim_slot* claimed = &heapshim_overflow_slot;
  pthread_mutex_lock(&registry_lock);
  const size_t high_water = atomic_load_explicit(&slots_high_water, memory_order_relaxed);
  for (size_t i = 0; i < max_slots; ++i) {
    if (!slots[i].in_use) {
      slots[i].in_use = 1;
      claimed = &slots[i];
      if (i >= high_water) atomic_store_explicit(&slots_high_water, i + 1, memory_order_release);
      break;
    }
  }
  pthread_mutex_unlock(&registry_lock);
  /* Set before pthread_setspecific, which may calloc (keys past the first 32) and land here. */
  heapshim_this_slot = claimed;
  if (claimed != &heapshim_overflow_slot && slot_key_ready) pthread_setspecific(slot_key, claimed);
  return claimed;
}

/* Thread exit: the counts stay in the slot (they are part of the process's totals); the next
 * thread to claim it adds to them. Frees after this (later TLS destructors) go to the overflow. */
static void release_slot(void* claimed) {
  pthread_mutex_lock(&registry_lock);
  ((struct heapshim_slot*)claimed)->in_use = 0;
  pthread_mutex_unlock(&registry_lock);
  heapshim_this_slot = NULL;
  this_thread_exiting = 1;
}

int heapshim_counts_allocations(void) { return 1; }

void heapshim_read_totals(struct heapshim_totals* out) {
  memset(out, 0, sizeof *out);
  const size_t used = atomic_load_explicit(&slots_high_water, memory_order_acquire);
  for (size_t i = 0; i <= used; ++i) {
    struct heapshim_slot* s = i < used ? &slots[i] : &heapshim_overflow_slot;
    out->live_bytes += atomic_load_explicit(&s->live_bytes, memory_order_relaxed);
    out->allocations += atomic_load_explicit(&s->allocations, memory_order_relaxed);
    out->deallocations += atomic_load_explicit(&s->deallocations, memory_order_relaxed);
    out->allocated_bytes += atomic_load_explicit(&s->allocated_bytes, memory_order_relaxed);
    for (int tag = 0; tag < heapshim_charges; ++tag) {
      out->charged_allocations[tag] += atomic_load_explicit(&s->charged_allocations[tag], memory_order_relaxed);
      out->charged_allocated_bytes[tag] += atomic_load_explicit(&s->charged_allocated_bytes[tag], memory_order_relaxed);
    }
  }
  out->live_bytes += inherited_live_bytes;
  out->inherited_live_bytes = inherited_live_bytes;
  out->seen_allocations = atomic_load_explicit(&heapshim_seen_allocations, memory_order_relaxed);
}

static void zero(struct heapshim_slot* s) {
  atomic_store(&s->live_bytes, 0);
  atomic_store(&s->allocations, 0);
  atomic_store(&s->deallocations, 0);
  atomic_store(&s->allocated_bytes, 0);
  for (int tag = 0; tag < heapshim_charges; ++tag) {
    atomic_store(&s->charged_allocations[tag], 0);
    atomic_store(&s->charged_allocated_bytes[tag], 0);
  }
}

int heapshim_charge(void) { return heapshim_charged; }

void heapshim_set_charge(int tag) {
  heapshim_charged = tag >= 1 && tag <= heapshim_charges ? tag : heapshim_charge_none;
}

static void fork_prepare(void) { pthread_mutex_lock(&registry_lock); }

static void fork_parent(void) { pthread_mutex_unlock(&registry_lock); }

/* Only the forking thread survives. The blocks every thread had live are live in the child too,
 * so they become its inherited_live_bytes; its cumulative counts start again from zero, so a sum
 * over the processes of a forking server counts each allocation once. */
static void fork_child(void) {
  struct heapshim_totals at_fork;
  heapshim_read_totals(&at_fork);
  inherited_live_bytes = at_fork.live_bytes;
  for (size_t i = 0; i < max_slots; ++i) {
    zero(&slots[i]);
    slots[i].in_use = &slots[i] == heapshim_this_slot;
  }
  zero(&heapshim_overflow_slot);
  pthread_mutex_unlock(&registry_lock);
}

void heapshim_counters_setup(void) {
  pthread_key_create(&slot_key, release_slot);
  atomic_store(&slot_key_ready, 1);
  pthread_atfork(fork_prepare, fork_parent, fork_child);
}
