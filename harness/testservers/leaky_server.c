/* A tiny HTTP/1.1 server that leaks on purpose, with plain malloc: the fixture that shows the heap
 * shim measures a program memgate did not build (harness/driver/test_heapshim.py).
 *
 *   leaky_server [--host 127.0.0.1] [--port 0] [--leak-bytes N]
 *
 * Single-threaded, one connection at a time, keep-alive: every request (any method, any path) is
 * answered 200 with "ok\n"; a request body announced by Content-Length is read and dropped. With
 * --leak-bytes N each request mallocs N bytes, writes them and forgets them; without it a request
 * allocates nothing. The first stdout line is `listening on HOST:PORT`, as refserver's. SIGTERM
 * ends it (the default action).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

enum { max_header_bytes = 8192 };

/* Keeps the compiler from proving the leaked block unused and dropping the malloc. */
static void* volatile last_leak;

struct request_buffer {
  char bytes[max_header_bytes + 1];
  size_t length;
};

static int write_all(int fd, const char* text, size_t length) {
  while (length > 0) {
    const ssize_t n = write(fd, text, length);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    text += n;
    length -= (size_t)n;
  }
  return 0;
}

/* The value of header NAME in the header block, or NULL; the value ends at \r. */
static const char* header_value(const char* headers, const char* name) {
  const size_t name_length = strlen(name);
  for (const char* line = strstr(headers, "\r\n"); line && line[2] != '\r'; line = strstr(line + 2, "\r\n")) {
    const char* field = line + 2;
    if (strncasecmp(field, name, name_length) == 0 && field[name_length] == ':') {
      const char* value = field + name_length + 1;
      while (*value == ' ' || *value == '\t') ++value;
      return value;
    }
  }
  return NULL;
}

static int discard(int fd, struct request_buffer* in, size_t count) {
  const size_t buffered = in->length < count ? in->length : count;
  memmove(in->bytes, in->bytes + buffered, in->length - buffered);
  in->length -= buffered;
  count -= buffered;
  while (count > 0) {
    char sink[4096];
    const ssize_t n = read(fd, sink, count < sizeof sink ? count : sizeof sink);
    if (n <= 0) return -1;
    count -= (size_t)n;
  }
  return 0;
}

static void serve(int fd, size_t leak_bytes) {
  static struct request_buffer in;
  in.length = 0;
  for (;;) {
    char* end;
    while (in.bytes[in.length] = 0, (end = strstr(in.bytes, "\r\n\r\n")) == NULL) {
      if (in.length == max_header_bytes) {
        static const char too_large[] = "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        write_all(fd, too_large, sizeof too_large - 1);
        return;
      }
      const ssize_t n = read(fd, in.bytes + in.length, max_header_bytes - in.length);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      in.length += (size_t)n;
    }
    end[2] = 0; /* the header block, up to its last line's \r\n */
    const size_t header_length = (size_t)(end + 4 - in.bytes);
    const char* length_value = header_value(in.bytes, "Content-Length");
    const char* connection = header_value(in.bytes, "Connection");
    const int keep_alive = !(connection && strncasecmp(connection, "close", 5) == 0) && !strstr(in.bytes, " HTTP/1.0\r\n");
    const size_t body_length = length_value ? strtoul(length_value, NULL, 10) : 0;
    if (discard(fd, &in, header_length) != 0 || discard(fd, &in, body_length) != 0) return;

    if (leak_bytes > 0) {
      char* leaked = malloc(leak_bytes);
      if (leaked) memset(leaked, 0xab, leak_bytes);
      last_leak = leaked;
    }
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n";
    static const char ok_close[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
    if (write_all(fd, keep_alive ? ok : ok_close, keep_alive ? sizeof ok - 1 : sizeof ok_close - 1) != 0 || !keep_alive) return;
  }
}

static int usage(const char* problem) {
  fprintf(stderr, "leaky_server: %s\nusage: leaky_server [--host ADDRESS] [--port N] [--leak-bytes N]\n", problem);
  return 2;
}

int main(int argc, char** argv) {
  const char* host = "127.0.0.1";
  long port = 0;
  long long leak_bytes = 0;
  for (int i = 1; i < argc; ++i) {
    if (i + 1 >= argc) return usage("every option takes a value");
    char* end = NULL;
    if (strcmp(argv[i], "--host") == 0) {
      host = argv[++i];
    } else if (strcmp(argv[i], "--port") == 0) {
      port = strtol(argv[++i], &end, 10);
      if (*end || port < 0 || port > 65535) return usage("--port wants 0 to 65535");
    } else if (strcmp(argv[i], "--leak-bytes") == 0) {
      leak_bytes = strtoll(argv[++i], &end, 10);
      if (*end || leak_bytes < 0) return usage("--leak-bytes wants a byte count");
    } else {
      return usage("unknown option");
    }
  }
  signal(SIGPIPE, SIG_IGN);
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  if (inet_pton(AF_INET, host, &address.sin_addr) != 1) return usage("--host wants an IPv4 address");
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int reuse = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse);
  if (listener < 0 || bind(listener, (struct sockaddr*)&address, sizeof address) != 0 || listen(listener, 64) != 0) {
    fprintf(stderr, "leaky_server: cannot listen on %s:%ld: %s\n", host, port, strerror(errno));
    return 1;
  }
  socklen_t length = sizeof address;
  getsockname(listener, (struct sockaddr*)&address, &length);
  printf("listening on %s:%d\n", host, ntohs(address.sin_port));
  fflush(stdout);
  for (;;) {
    const int client = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (client < 0) continue;
    serve(client, (size_t)leak_bytes);
    close(client);
  }
}
