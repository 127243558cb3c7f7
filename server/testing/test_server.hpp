#pragma once
// Test support: the real server in-process on a loopback port, and small
// blocking HTTP/1.1 clients to talk to it.
#include "config/config.hpp"
#include "server.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

namespace memgate::testing {

class running_server {
 public:
  explicit running_server(server_config config);
  ~running_server();
  std::uint16_t port() const { return port_; }
  server_config& config() { return config_; }

 private:
  server_config config_;
  std::unique_ptr<server> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

struct http_reply {
  unsigned status = 0;
  std::string body;
  bool keep_alive = false;
  bool chunked = false;
};

http_reply http1_request(std::uint16_t port, const std::string& method, const std::string& target,
                         const std::string& body = {});

struct raw_reply {
  std::string bytes;
  bool closed_by_server = false;
};

// Writes `request` as is and reads until the server closes or `timeout` passes.
raw_reply raw_exchange(std::uint16_t port, const std::string& request,
                         std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

std::string pattern_string(std::uint64_t offset, std::size_t length);

}  // namespace memgate::testing
