/* malloc_pairs [SIZE] [PAIRS]: ns per malloc(SIZE) + free pair on one thread, printed alone on
 * one line; malloc_pairs.sh runs it with and without the heap shim. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Keeps the compiler from eliding the pair. */
static void* volatile last_block;

int main(int argc, char** argv) {
  const size_t size = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
  const long pairs = argc > 2 ? strtol(argv[2], NULL, 10) : 20000000;
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (long i = 0; i < pairs; ++i) {
    last_block = malloc(size);
    free(last_block);
  }
  clock_gettime(CLOCK_MONOTONIC, &end);
  printf("%.2f\n", ((double)(end.tv_sec - start.tv_sec) * 1e9 + (double)(end.tv_nsec - start.tv_nsec)) / (double)pairs);
  return 0;
}
