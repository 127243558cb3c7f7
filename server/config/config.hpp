#pragma once
#include "config/limits.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace memgate {

enum class copy_strategy { writev, buffered };
enum class request_body_strategy { streamed, buffered };
enum class json_mode { built, cached };
// How --inject-leak* and --inject-hold-per-stream allocate: operator new (counted by memgate's heap hooks) or plain malloc
// (what a C server or a C library does; seen by a heap that counts malloc, and by RSS).
enum class leak_via { new_operator, malloc };

struct server_config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  unsigned threads = 1;
  copy_strategy copy = copy_strategy::writev;
  request_body_strategy request_body = request_body_strategy::streamed;
  json_mode json = json_mode::built;
  std::size_t inject_leak_bytes = 0;                 // per measured request
  std::size_t inject_leak_per_connection_bytes = 0;  // per h1/h2 connection, when it closes
  std::size_t inject_leak_per_reset_bytes = 0;       // per response the client abandons mid-way
  std::size_t inject_hold_per_stream_bytes = 0;      // per measured request in flight, freed when it ends
  leak_via inject_leak_via = leak_via::new_operator;  // for every --inject-leak* and --inject-hold-per-stream
  std::size_t inject_copy_bytes = 0;                 // per measured request: a body-like copy, counted in bytes_copied
  bool no_backpressure = false;
  std::string tls_cert_path;
  std::string tls_key_path;
  server_limits limits;

  bool tls() const { return !tls_cert_path.empty(); }
};

const char* to_string(copy_strategy value);
const char* to_string(request_body_strategy value);
const char* to_string(json_mode value);
const char* to_string(leak_via value);

struct parsed_args {
  std::optional<server_config> config;  // empty: print `message` and exit with `exit_code`
  std::string message;
  int exit_code = 0;
};

parsed_args parse_args(const std::vector<std::string>& args);

}  // namespace memgate
