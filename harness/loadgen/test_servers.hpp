// Tiny in-process HTTP/1.1, h2c and TLS servers for loadgen's end-to-end tests (127.0.0.1, port 0).
// Routes: /bytes/N and /stream/N (pattern; ?corrupt flips one byte, ?short drops the last),
// /stream/inf (pattern without end: h1 chunked, h2 DATA; ?corrupt flips byte 1000), /status/C,
// POST /upload (receipt; ?badcrc lies about the CRC), /close (h1: Connection: close), and a
// body that is not ours: /text/N, N letters a..z repeating (?chunked: h1 chunked; ?alternate:
// every second response of the process has one letter changed).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace memgate::loadgen::testing {

class test_server {
 public:
  virtual ~test_server() = default;
  virtual std::uint16_t port() const = 0;
  virtual std::uint64_t connections_accepted() const = 0;
  virtual std::uint64_t connections_open() const = 0;  // accepted and not yet closed by either side
  virtual std::uint64_t goaways_received() const = 0;   // h2 only
};

// `listen_after` > 0: the port is bound at once but listens only that much later, so
// connects before then are refused.
std::unique_ptr<test_server> start_h1_server(std::chrono::milliseconds listen_after = {});
std::unique_ptr<test_server> start_h2c_server();
// TLS with a self-signed certificate; ALPN selects `alpn` ("h2" serves HTTP/2, anything
// else HTTP/1.1) when the client offers it, and nothing otherwise.
std::unique_ptr<test_server> start_tls_server(const std::string& alpn);

}  // namespace memgate::loadgen::testing
