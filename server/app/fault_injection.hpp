#pragma once
#include "app/router.hpp"
#include "config/config.hpp"

#include <cstddef>
#include <memory>

namespace memgate::app {

// --inject-leak*: allocates (operator new or plain malloc), touches and drops `bytes` of
// heap, so the leak shows in live heap and RSS alike. The one site sanitizer suppressions name.
void leak_heap_bytes(std::size_t bytes, leak_via via);

// --inject-copy: copies `bytes` of the body pattern into a fresh heap buffer and frees it, counted
// in bytes_copied like the buffered strategy's copies: a copy regression of any size, on any endpoint.
void copy_body_bytes(std::size_t bytes);

// Frees a held block the way it was allocated.
struct release_held {
  leak_via via = leak_via::new_operator;
  void operator()(void* block) const;
};

// --inject-hold-per-stream: a touched (so resident) block held while one measured request is in
// flight and freed with it: memory per open stream or upload that peak RSS sees while the load
// runs and that is gone by the end sample. Zero bytes allocate nothing.
class held_block {
 public:
  held_block() = default;
  held_block(std::size_t bytes, leak_via via);

  bool empty() const { return block_ == nullptr; }

 private:
  std::unique_ptr<void, release_held> block_;
};

// One per connection: the per-request faults (--inject-leak, --inject-copy) at each measured
// request, and --inject-leak-per-connection when a connection that served at least one closes.
// One that served only the harness's probes (/mem, /healthz) or nothing is no load connection:
// the driver's own polling, and a load generator's spare connection that found no request left
// (whether the server even saw it depends on when the client gave up), would add their own count.
class connection_faults {
 public:
  explicit connection_faults(const server_config& config) : config_(config) {}
  connection_faults(const connection_faults&) = delete;
  connection_faults& operator=(const connection_faults&) = delete;
  ~connection_faults();  // the connection closed

  void on_request_started(const route& r);

 private:
  const server_config& config_;
  bool served_load_ = false;
};

}  // namespace memgate::app
