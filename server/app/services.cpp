#include "app/services.hpp"

#include "app/fault_injection.hpp"

#include <boost/json.hpp>

namespace memgate::app {

response error_response(const route_error& error) {
  return {error.status, "application/json",
          response_body::text(boost::json::serialize(boost::json::object{{"error", error.reason}}))};
}

response json_response(std::string json) { return {200, "application/json", response_body::text(std::move(json))}; }

response immediate_response(const route& r, services& app) {
  switch (r.kind) {
    case endpoint::bytes:
      return {200, "application/octet-stream", response_body::pattern(r.length)};
    case endpoint::json:
      return {200, "application/json", response_body::shared_text(app.json.get(r.json_items))};
    case endpoint::healthz:
      return json_response(R"({"status":"ok"})");
    default:
      return error_response({500, "endpoint is not answered immediately"});
  }
}

void on_response_abandoned(const services& app) {
  leak_heap_bytes(app.config.inject_leak_per_reset_bytes, app.config.inject_leak_via);
}

}  // namespace memgate::app
