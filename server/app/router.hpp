#pragma once
// Maps a request line to an endpoint, protocol-independently.
#include "config/limits.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace memgate::app {

enum class endpoint { bytes, stream, json, upload, mem, healthz };

struct route {
  endpoint kind = endpoint::healthz;
  std::uint64_t length = 0;       // bytes, stream
  bool infinite = false;          // stream/inf
  std::size_t chunk_bytes = 16 * 1024;  // stream
  std::size_t json_items = 10;    // json
  bool trim = true;               // mem

  // /mem and /healthz are the harness's own probes, not measured traffic.
  bool counts_as_request() const { return kind != endpoint::mem && kind != endpoint::healthz; }
};

struct route_error {
  unsigned status;
  std::string reason;
};

std::variant<route, route_error> classify(std::string_view method, std::string_view target, const server_limits& limits);

}  // namespace memgate::app
