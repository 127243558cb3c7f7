/* The channel half of the heap shim: a unix socket per process, <MEMGATE_SHIM_DIR>/<pid>.sock,
 * served by one thread that answers one line per connection. Protocol: README.md.
 *
 * The thread makes no allocation of its own while it serves (fixed buffers, no stdio), blocks
 * every signal so the target's signals still reach the target's threads, and is the only one
 * that touches the buffers below.
 */
#define _GNU_SOURCE
#include "heapshim.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

enum { control_stack_bytes = 128 * 1024, request_timeout_ms = 1000 };

/* Read once, in the process that loaded the shim, and inherited over fork: servers such as nginx
 * rebuild their workers' environment, so a child's getenv no longer sees it. */
static char channel_dir[PATH_MAX];
static int channel_dir_read;
static char socket_path[sizeof(((struct sockaddr_un*)0)->sun_path)];
static int listen_fd = -1;
/* The connection being answered, if any: a fork copies it into the child, which must let it go
 * or the client would not see the connection close until the child exits. */
static _Atomic int answering_fd = -1;
static pid_t socket_owner;

static void say(const char* what, const char* detail, int error) {
  char line[PATH_MAX + 160];
  const int n = snprintf(line, sizeof line, "memgate heapshim: %s %s (errno %d); this process is not measured\n",
                         what, detail, error);
  if (n > 0) (void)!write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* ---- the JSON answer, built in a fixed buffer ---- */

struct answer {
  char text[3 * PATH_MAX + 1024];
  size_t length;
};

static void put(struct answer* a, const char* s) {
  const size_t n = strlen(s);
  if (a->length + n >= sizeof a->text) return;
  memcpy(a->text + a->length, s, n);
  a->length += n;
}

static void put_int(struct answer* a, const char* key, int64_t value) {
  char field[96];
  snprintf(field, sizeof field, ",\"%s\":%lld", key, (long long)value);
  put(a, field);
}

static void put_bool(struct answer* a, const char* key, int value) {
  char field[96];
  snprintf(field, sizeof field, ",\"%s\":%s", key, value ? "true" : "false");
  put(a, field);
}

static void put_string(struct answer* a, const char* key, const char* value) {
  char field[96];
  snprintf(field, sizeof field, ",\"%s\":\"", key);
  put(a, field);
  for (const unsigned char* c = (const unsigned char*)value; *c; ++c) {
    char escaped[8] = {(char)*c, 0};
    if (*c == '"' || *c == '\\') {
      escaped[0] = '\\';
      escaped[1] = (char)*c;
    } else if (*c < 0x20) {
      snprintf(escaped, sizeof escaped, "\\u%04x", *c);
    }
    put(a, escaped);
  }
  put(a, "\"");
}

static void build_sample(struct answer* a, const struct heapshim_allocator* allocator, int trimmed) {
  static char exe[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = 0;
  struct heapshim_totals totals;
  heapshim_read_totals(&totals);
  char head[64];
  snprintf(head, sizeof head, "{\"pid\":%d", (int)getpid());
  a->length = 0;
  put(a, head);
  put_int(a, "ppid", getppid());
  put_string(a, "exe", exe);
  put_string(a, "allocator", allocator->name);
  put_string(a, "malloc_from", allocator->malloc_from);
  put_string(a, "trim_method", allocator->trim_method);
  put_bool(a, "trimmed", trimmed);
  put_bool(a, "seen_allocations", totals.seen_allocations);
  put_int(a, "live_bytes", totals.live_bytes);
  put_int(a, "inherited_live_bytes", totals.inherited_live_bytes);
  put_int(a, "allocations", totals.allocations);
  put_int(a, "deallocations", totals.deallocations);
  put_int(a, "allocated_bytes", totals.allocated_bytes);
  put(a, "}\n");
}

/* ---- serving ---- */

static size_t read_command(int client, char* command, size_t capacity) {
  size_t length = 0;
  while (length + 1 < capacity) {
    const ssize_t n = read(client, command + length, capacity - 1 - length);
    if (n <= 0) break;
    length += (size_t)n;
    if (memchr(command, '\n', length)) break;
  }
  command[length] = 0;
  char* end = strpbrk(command, "\r\n");
  if (end) *end = 0;
  return strlen(command);
}

static void write_all(int client, const char* text, size_t length) {
  while (length > 0) {
    const ssize_t n = write(client, text, length);
    if (n <= 0) return;
    text += n;
    length -= (size_t)n;
  }
}

static void answer_one(int client, const struct heapshim_allocator* allocator) {
  static struct answer a;
  const struct timeval timeout = {0, request_timeout_ms * 1000};
  setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  char command[64];
  read_command(client, command, sizeof command);
  if (strcmp(command, "sample") == 0) {
    build_sample(&a, allocator, 0);
  } else if (strcmp(command, "trim") == 0) {
    if (allocator->trim) allocator->trim();
    build_sample(&a, allocator, allocator->trim != NULL);
  } else {
    a.length = 0;
    put(&a, "{\"error\":\"unknown command: send sample or trim, one line\"}\n");
  }
  write_all(client, a.text, a.length);
}

static void* serve(void* arg) {
  const int fd = (int)(intptr_t)arg;
  struct heapshim_allocator allocator = {"not interposed", "none", "", NULL};
  for (;;) {
    const int client = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    if (client >= 0) {
      atomic_store(&answering_fd, client);
      /* At the first question, not at load: a malloc ahead of ours that forwards to it (refserver's)
       * shows itself by the allocations that reached the shim by then. */
      if (strcmp(allocator.name, "not interposed") == 0) heapshim_detect_allocator(&allocator);
      answer_one(client, &allocator);
      atomic_store(&answering_fd, -1);
      close(client);
    } else if (errno == EBADF || errno == EINVAL || errno == ENOTSOCK) {
      return NULL; /* the socket is gone */
    } else if (errno != EINTR && errno != ECONNABORTED) {
      usleep(10 * 1000); /* out of descriptors, say: try again rather than spin */
    }
  }
}

static int start_thread(int fd) {
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attributes, control_stack_bytes);
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous); /* the new thread inherits the full mask */
  pthread_t thread;
  const int rc = pthread_create(&thread, &attributes, serve, (void*)(intptr_t)fd);
  pthread_sigmask(SIG_SETMASK, &previous, NULL);
  pthread_attr_destroy(&attributes);
  if (rc == 0) pthread_setname_np(thread, "memgate-shim");
  return rc;
}

void heapshim_control_start(void) {
  if (!channel_dir_read) {
    channel_dir_read = 1;
    const char* dir = getenv("MEMGATE_SHIM_DIR");
    if (dir && strlen(dir) < sizeof channel_dir) strcpy(channel_dir, dir);
  }
  if (!channel_dir[0]) return;
  struct sockaddr_un address = {.sun_family = AF_UNIX};
  const int n = snprintf(address.sun_path, sizeof address.sun_path, "%s/%d.sock", channel_dir, (int)getpid());
  if (n < 0 || (size_t)n >= sizeof address.sun_path) {
    say("MEMGATE_SHIM_DIR is too long for a unix socket path:", channel_dir, ENAMETOOLONG);
    return;
  }
  unlink(address.sun_path); /* left by an earlier image of this pid (before an exec) */
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    say("cannot make the channel socket in", channel_dir, errno);
    return;
  }
  if (bind(fd, (struct sockaddr*)&address, sizeof address) != 0 || listen(fd, 16) != 0) {
    say("cannot listen on", address.sun_path, errno);
    close(fd);
    return;
  }
  const int rc = start_thread(fd);
  if (rc != 0) {
    say("cannot start the channel thread for", address.sun_path, rc);
    close(fd);
    unlink(address.sun_path);
    return;
  }
  memcpy(socket_path, address.sun_path, sizeof socket_path);
  listen_fd = fd;
  socket_owner = getpid();
}

void heapshim_control_forget_parent(void) {
  if (listen_fd >= 0) close(listen_fd);
  const int inherited_client = atomic_exchange(&answering_fd, -1);
  if (inherited_client >= 0) close(inherited_client);
  listen_fd = -1;
  socket_owner = 0;
}

void heapshim_control_stop(void) {
  if (socket_owner == getpid() && socket_path[0]) unlink(socket_path);
}
