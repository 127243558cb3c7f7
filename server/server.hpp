#pragma once
// The composition root: worker threads, the listener, and the choice of
// protocol per connection (h2c preface sniffing, or ALPN after the TLS handshake).
#include "app/json_documents.hpp"
#include "app/memory_sampler.hpp"
#include "app/services.hpp"
#include "config/config.hpp"
#include "strategy/strategies.hpp"
#include "transport/listener.hpp"
#include "transport/worker_pool.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>

namespace memgate {

class server {
 public:
  // Throws std::runtime_error (bad certificate) or boost::system::system_error (bind).
  explicit server(server_config config);
  ~server();

  boost::asio::ip::tcp::endpoint local_endpoint() const { return listener_->local_endpoint(); }
  // Serves until SIGINT/SIGTERM or stop(), then drains; returns the process exit code.
  int run();
  void stop();  // thread-safe

 private:
  void on_connection(boost::asio::ip::tcp::socket socket, transport::connection_slot slot);
  void drain();
  void wait_for_drained(std::chrono::steady_clock::time_point deadline);

  server_config config_;
  // Declared before control_ so it is destroyed after it: a pending accept holds
  // a socket bound to a worker's io_context.
  transport::worker_pool workers_;
  boost::asio::io_context control_;  // accepts connections and handles signals
  std::optional<boost::asio::ssl::context> tls_;
  std::atomic<bool> draining_{false};
  app::json_documents json_;
  app::memory_sampler sampler_;
  app::services services_;
  strategy::strategies strategies_;  // chosen once, here
  boost::asio::steady_timer drain_timer_;
  std::shared_ptr<transport::listener> listener_;
};

}  // namespace memgate
