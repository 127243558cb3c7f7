/* Window dumps for jemalloc heap profiling, without a server endpoint.
 *
 * `memgate profile --profiler jemalloc` LD_PRELOADs this library into refserver-jemalloc
 * (harness/profile/jemalloc_prof.py builds it with cc on first use). Its constructor starts
 * one thread, with every signal blocked, that reads absolute paths, one per line, from the
 * FIFO named by MEMGATE_JEPROF_CTL. For each path it calls mallctl("prof.dump") into
 * PATH.tmp and renames that to PATH, or writes the error to PATH.err. The driver asks for a
 * dump right after the start and end /mem samples, so the two dumps bracket the measured
 * window. Nothing happens without MEMGATE_JEPROF_CTL or without jemalloc's mallctl.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int (*mallctl_fn)(const char*, void*, size_t*, void*, size_t);

enum { max_path = 4096 };

static void dump_to(mallctl_fn mallctl, const char* path) {
  char tmp[max_path + 8];
  char err[max_path + 8];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  snprintf(err, sizeof err, "%s.err", path);
  const char* target = tmp;
  int rc = mallctl ? mallctl("prof.dump", NULL, NULL, (void*)&target, sizeof target) : ENOSYS;
  if (rc == 0 && rename(tmp, path) == 0) return;
  if (rc == 0) rc = errno;
  FILE* f = fopen(err, "w");
  if (f) {
    fprintf(f, "mallctl(\"prof.dump\") failed: %d (%s)%s\n", rc, strerror(rc),
            mallctl ? "" : "; no mallctl in the process (not a jemalloc build?)");
    fclose(f);
  }
}

static void* serve(void* arg) {
  const char* fifo = arg;
  mallctl_fn mallctl = (mallctl_fn)dlsym(RTLD_DEFAULT, "mallctl");
  char line[max_path + 1];
  size_t have = 0;
  for (;;) {
    int fd = open(fifo, O_RDONLY); /* blocks until the driver opens the FIFO for writing */
    if (fd < 0) {
      if (errno == EINTR) continue;
      return NULL; /* the FIFO is gone: the driver is done with this server */
    }
    ssize_t n;
    while ((n = read(fd, line + have, sizeof line - 1 - have)) > 0) {
      have += (size_t)n;
      char* nl;
      while ((nl = memchr(line, '\n', have)) != NULL) {
        *nl = '\0';
        if (line[0] == '/') dump_to(mallctl, line);
        size_t used = (size_t)(nl + 1 - line);
        memmove(line, nl + 1, have - used);
        have -= used;
      }
      if (have == sizeof line - 1) have = 0; /* an over-long line: dropped */
    }
    close(fd);
    have = 0;
  }
}

__attribute__((constructor)) static void memgate_jeprof_ctl_start(void) {
  const char* fifo = getenv("MEMGATE_JEPROF_CTL");
  if (fifo == NULL || fifo[0] == '\0') return;
  char* copy = strdup(fifo);
  if (copy == NULL) return;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old); /* SIGTERM and friends stay the server's business */
  pthread_t thread;
  if (pthread_create(&thread, &attr, serve, copy) != 0) free(copy);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
}
