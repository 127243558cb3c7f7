/* operator new and delete, interposed by their mangled names and forwarded to the next
 * definition, which keeps its semantics (new handler, std::bad_alloc: compiled with -fexceptions
 * so that an exception unwinds through these frames). libstdc++'s go through malloc and free and
 * are counted there; the allocator's own (jemalloc, mimalloc) are counted here unless an
 * interposed function counted the block during the call (heapshim.h). align_val_t is passed as
 * the size_t it is, nothrow_t as the reference it is. */
#define _GNU_SOURCE
#include "counters.h"
#include "heapshim.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

struct next_operator {
  const char* name;
  heapshim_function function;
  int counted_here;
  _Atomic int resolved;
};

static const struct next_operator* resolve(struct next_operator* op) {
  if (__builtin_expect(!atomic_load_explicit(&op->resolved, memory_order_acquire), 0)) {
    op->function = heapshim_next_symbol(op->name);
    if (!op->function) {
      static const char message[] = "memgate heapshim: operator new or delete called, but no next definition\n";
      (void)!write(2, message, sizeof message - 1);
      abort();
    }
    op->counted_here = heapshim_beside_malloc(op->function);
    atomic_store_explicit(&op->resolved, 1, memory_order_release);
  }
  return op;
}

#define NEW_OPERATOR(symbol, params, types, args)                             \
  static struct next_operator symbol##_next = {#symbol, NULL, 0, 0};          \
  EXPORT void* symbol params {                                                \
    const struct next_operator* op = resolve(&symbol##_next);                 \
    heapshim_counted_in_call = 0;                                             \
    void* block = ((void* (*)types)op->function)args;                         \
    if (block && op->counted_here && !heapshim_counted_in_call) heapshim_count_allocated(block); \
    return block;                                                             \
  }

#define DELETE_OPERATOR(symbol, params, types, args)                          \
  static struct next_operator symbol##_next = {#symbol, NULL, 0, 0};          \
  EXPORT void symbol params {                                                 \
    const struct next_operator* op = resolve(&symbol##_next);                 \
    if (!block || !op->counted_here) {                                        \
      ((void (*)types)op->function)args;                                      \
      return;                                                                 \
    }                                                                         \
    const int64_t usable = heapshim_usable_size(block);                       \
    heapshim_counted_in_call = 0;                                             \
    ((void (*)types)op->function)args;                                        \
    if (!heapshim_counted_in_call) heapshim_count_freed(usable);              \
  }

NEW_OPERATOR(_Znwm, (size_t size), (size_t), (size))
NEW_OPERATOR(_Znam, (size_t size), (size_t), (size))
NEW_OPERATOR(_ZnwmRKSt9nothrow_t, (size_t size, const void* nothrow), (size_t, const void*), (size, nothrow))
NEW_OPERATOR(_ZnamRKSt9nothrow_t, (size_t size, const void* nothrow), (size_t, const void*), (size, nothrow))
NEW_OPERATOR(_ZnwmSt11align_val_t, (size_t size, size_t align), (size_t, size_t), (size, align))
NEW_OPERATOR(_ZnamSt11align_val_t, (size_t size, size_t align), (size_t, size_t), (size, align))
NEW_OPERATOR(_ZnwmSt11align_val_tRKSt9nothrow_t, (size_t size, size_t align, const void* nothrow),
             (size_t, size_t, const void*), (size, align, nothrow))
NEW_OPERATOR(_ZnamSt11align_val_tRKSt9nothrow_t, (size_t size, size_t align, const void* nothrow),
             (size_t, size_t, const void*), (size, align, nothrow))

DELETE_OPERATOR(_ZdlPv, (void* block), (void*), (block))
DELETE_OPERATOR(_ZdaPv, (void* block), (void*), (block))
DELETE_OPERATOR(_ZdlPvm, (void* block, size_t size), (void*, size_t), (block, size))
DELETE_OPERATOR(_ZdaPvm, (void* block, size_t size), (void*, size_t), (block, size))
DELETE_OPERATOR(_ZdlPvRKSt9nothrow_t, (void* block, const void* nothrow), (void*, const void*), (block, nothrow))
DELETE_OPERATOR(_ZdaPvRKSt9nothrow_t, (void* block, const void* nothrow), (void*, const void*), (block, nothrow))
DELETE_OPERATOR(_ZdlPvSt11align_val_t, (void* block, size_t align), (void*, size_t), (block, align))
DELETE_OPERATOR(_ZdaPvSt11align_val_t, (void* block, size_t align), (void*, size_t), (block, align))
DELETE_OPERATOR(_ZdlPvmSt11align_val_t, (void* block, size_t size, size_t align), (void*, size_t, size_t),
                (block, size, align))
DELETE_OPERATOR(_ZdaPvmSt11align_val_t, (void* block, size_t size, size_t align), (void*, size_t, size_t),
                (block, size, align))
DELETE_OPERATOR(_ZdlPvSt11align_val_tRKSt9nothrow_t, (void* block, size_t align, const void* nothrow),
                (void*, size_t, const void*), (block, align, nothrow))
DELETE_OPERATOR(_ZdaPvSt11align_val_tRKSt9nothrow_t, (void* block, size_t align, const void* nothrow),
                (void*, size_t, const void*), (block, align, nothrow))
