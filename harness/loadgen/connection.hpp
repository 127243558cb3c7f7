// What a worker needs from a connection, whatever its protocol and transport.
#pragma once

#include "response_check.hpp"

namespace memgate::loadgen {

class connection {
 public:
  virtual ~connection() = default;
  // Connects, then issues requests until the plan or its per-connection quota runs out.
  virtual void start() = 0;
  // Fails every request this connection holds with `reason` and closes; no callback follows.
  virtual void abort(failure reason) = 0;
  // --hold: closes the connection, held idle after its requests, gracefully (h2: GOAWAY first).
  virtual void release() = 0;
};

}  // namespace memgate::loadgen
