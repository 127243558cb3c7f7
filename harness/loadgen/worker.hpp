// One event loop and its share of the connections. Connections report outcomes here; the
// worker paces their connects and replaces each connection that ends while requests remain.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
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
  // --hold: called once (on the worker's thread) when every live connection is held, with their number.
  using settled_callback = std::function<void(std::uint64_t held)>;

  worker(const plan& p, run_control& control, boost::asio::ssl::context* tls, endpoints eps,
         std::uint32_t connections, settled_callback on_settled = {});
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  // Runs the event loop until every connection has ended or the time limit hits.
  void run();
  // Thread-safe: closes every held connection gracefully; run() then returns.
  void release_held();
  const run_stats& stats() const noexcept { return stats_; }

  // --- for connections ---
  boost::asio::io_context& ioc() noexcept { return ioc_; }
  const plan& the_plan() const noexcept { return plan_; }
  boost::asio::ssl::context* tls() noexcept { return tls_; }
  run_stats& mutable_stats() noexcept { return stats_; }

  // Connects `socket` to the target, at most a few hundred connects in flight per run; refused
  // or reset attempts are retried with backoff a bounded number of times. `done` gets the
  // outcome and must keep the socket's owner alive.
  void connect(boost::asio::ip::tcp::socket& socket, std::function<void(boost::system::error_code)> done);
  // The next request ticket for the connection in `slot` (--hold keeps each slot's first).
  std::optional<run_control::ticket> acquire_ticket(std::size_t slot) noexcept;

  // The status of a response whose outcome is recorded (completed, failed its check, or cancelled).
  void count_status(unsigned code) noexcept {
    if (code < stats_.statuses.size()) ++stats_.statuses[code];
  }
  void record_success(clock::time_point start, std::uint64_t body_bytes, bool h2) noexcept;
  void record_failure(failure reason, std::uint64_t body_bytes = 0) noexcept;
  // Says why a response was malformed: kept (the first) for the report, and told once on stderr.
  void note_malformed(std::string_view message);
  // A response abandoned by --cancel-after-bytes: completed (and counted cancelled) unless
  // the bytes that arrived already failed.
  void record_cancelled(clock::time_point start, std::uint64_t body_bytes, std::optional<failure> verdict,
                        bool h2) noexcept;
  // Takes one ticket and fails it (a connect or TLS failure uses up a request, so a dead
  // server ends the run instead of spinning). False when no tickets remain.
  bool fail_one(std::size_t slot, failure reason) noexcept;
  // --hold: the connection in `slot` served its requests and now stays open, idle.
  void connection_held(std::size_t slot);
  void connection_done(std::size_t slot);

 private:
  struct pending_connect {
    boost::asio::ip::tcp::socket* socket;
    std::function<void(boost::system::error_code)> done;
    unsigned attempts = 0;  // made so far
  };

  std::shared_ptr<connection> make_connection(std::size_t slot);
  void start_connects();
  void attempt_connect(pending_connect p);
  void on_connect_attempt(pending_connect p, boost::system::error_code ec);
  void check_settled();
  void on_deadline(boost::system::error_code ec);

  boost::asio::io_context ioc_{1};
  const plan& plan_;
  run_control& control_;
  boost::asio::ssl::context* tls_;
  endpoints endpoints_;
  boost::asio::steady_timer deadline_;
  std::vector<std::shared_ptr<connection>> slots_;
  std::vector<bool> awaits_first_;  // per slot, --hold only
  std::vector<bool> held_;          // per slot
  std::size_t live_ = 0;
  std::size_t held_count_ = 0;
  bool released_ = false;
  settled_callback on_settled_;
  std::deque<pending_connect> connect_queue_;
  std::uint32_t connects_in_flight_ = 0;
  const std::uint32_t max_connects_in_flight_;
  run_stats stats_;
};

}  // namespace memgate::loadgen
