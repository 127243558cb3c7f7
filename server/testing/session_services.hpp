#pragma once
// What a session needs from the server (config, JSON documents, the /mem sampler, the drain
// flag, the strategies), wired as server.cpp wires it but on a caller's io_context: for tests and fuzz targets
// that drive a session without a server.
#include "app/json_documents.hpp"
#include "app/memory_sampler.hpp"
#include "app/services.hpp"
#include "config/config.hpp"
#include "strategy/strategies.hpp"
#include "thread_caches.hpp"

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <utility>

namespace memgate::testing {

struct session_services {
  session_services(server_config c, boost::asio::io_context& io)
      : config(std::move(c)), json(config.json), sampler(config, {io.get_executor()}, release_thread_caches),
        services{config, json, sampler, draining}, strategies(config) {}

  server_config config;
  std::atomic<bool> draining{false};
  app::json_documents json;
  app::memory_sampler sampler;
  app::services services;
  strategy::strategies strategies;
};

}  // namespace memgate::testing
