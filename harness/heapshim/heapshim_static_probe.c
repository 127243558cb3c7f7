/* A program with its allocator (jemalloc) linked into the executable, for heapshim_test: its
 * malloc comes before the shim's in symbol lookup, so the shim is loaded and answers but sees no
 * allocation. Allocates, prints "ready", and exits when stdin closes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void) {
  char* block = malloc(100000);
  memset(block, 1, 100000);
  if (write(1, "ready\n", 6) != 6) return 3;
  char c;
  while (read(0, &c, 1) > 0) {
  }
  free(block);
  return 0;
}
