// One event loop and its share of the connections. Connections report outcomes here; the
// worker replaces each connection that ends while requests remain.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "connection.hpp"
#include "plan.hpp"
#include "stats.hpp"

namespace memgate::loadgen {

class worker {
 public:
  using endpoints = boost::asio::ip::tcp::resolver::results_type;

  worker(const plan& p, run_control& control, boost::asio::ssl::context* tls, endpoints eps,
         std::uint32_t connections);
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  // Runs the event loop until every connection has ended or the time limit hits.
  void run();
  const run_stats& stats() const noexcept { return stats_; }

  // --- for connections ---
  boost::asio::io_context& ioc() noexcept { return ioc_; }
  const plan& the_plan() const noexcept { return plan_; }
  run_control& control() noexcept { return control_; }
  boost::asio::ssl::context* tls() noexcept { return tls_; }
  const endpoints& targets() const noexcept { return endpoints_; }
  run_stats& mutable_stats() noexcept { return stats_; }

  void record_success(clock::time_point start, std::uint64_t body_bytes, bool h2) noexcept;
  void record_failure(failure reason, std::uint64_t body_bytes = 0) noexcept;
  // Takes one ticket and fails it (a connect or TLS failure uses up a request, so a dead
  // server ends the run instead of spinning). False when no tickets remain.
  bool fail_one(failure reason) noexcept;
  void connection_done(std::size_t slot);

 private:
  std::shared_ptr<connection> make_connection(std::size_t slot);
  void on_deadline(boost::system::error_code ec);

  boost::asio::io_context ioc_{1};
  const plan& plan_;
  run_control& control_;
  boost::asio::ssl::context* tls_;
  endpoints endpoints_;
  boost::asio::steady_timer deadline_;
  std::vector<std::shared_ptr<connection>> slots_;
  std::size_t live_ = 0;
  run_stats stats_;
};

}  // namespace memgate::loadgen
