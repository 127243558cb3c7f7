#pragma once
// What a protocol session needs from the application, whatever its protocol.
#include "app/fault_injection.hpp"
#include "app/json_documents.hpp"
#include "app/memory_sampler.hpp"
#include "app/response_body.hpp"
#include "app/router.hpp"
#include "config/config.hpp"

#include <atomic>
#include <string_view>

namespace memgate::app {

struct services {
  const server_config& config;
  json_documents& json;
  const memory_sampler& sampler;
  const std::atomic<bool>& draining;  // SIGTERM: finish what is in flight, take nothing new
};

struct response {
  unsigned status = 200;
  std::string_view content_type = "application/octet-stream";
  response_body body = response_body::pattern(0);
};

// {"error": reason} with the route error's status.
response error_response(const route_error& error);
response json_response(std::string json);

// Endpoints answered at once from the route alone: bytes, json, healthz.
// Upload, stream and mem involve the protocol and are driven by the sessions.
response immediate_response(const route& r, services& app);

// --inject-leak-per-reset: a cancelled response whose path forgets to free. The per-request and
// per-connection faults are connection_faults' (app/fault_injection.hpp), which each session holds.
void on_response_abandoned(const services& app);

}  // namespace memgate::app
