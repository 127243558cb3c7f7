#include "worker.hpp"

#include <algorithm>
#include <atomic>
#include <iostream>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "h1_connection.hpp"
#include "h2_connection.hpp"

namespace memgate::loadgen {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

// Thousands of connects at once overflow a listener's SYN and accept queues (backlog ~4096)
// and come back refused or reset; this many per run are in flight at most.
constexpr std::uint32_t max_connects_in_flight_per_run = 256;
constexpr unsigned connect_attempts = 5;
constexpr auto first_connect_retry_delay = std::chrono::milliseconds(20);  // doubles per retry

bool worth_retrying(const error_code& ec) {
  return ec == asio::error::connection_refused || ec == asio::error::connection_reset ||
         ec == asio::error::connection_aborted || ec == asio::error::timed_out || ec == asio::error::try_again;
}

}  // namespace

worker::worker(const plan& p, run_control& control, asio::ssl::context* tls, endpoints eps,
               std::uint32_t connections, settled_callback on_settled)
    : plan_(p),
      control_(control),
      tls_(tls),
      endpoints_(std::move(eps)),
      deadline_(ioc_),
      slots_(connections),
      awaits_first_(connections, p.opts().hold),
      held_(connections, false),
      on_settled_(std::move(on_settled)),
      max_connects_in_flight_(std::max<std::uint32_t>(1, max_connects_in_flight_per_run / p.opts().threads)) {}

std::shared_ptr<connection> worker::make_connection(std::size_t slot) {
  const bool h2 = plan_.opts().proto != protocol::h1;
  if (tls_) {
    using stream = asio::ssl::stream<tcp::socket>;
    if (h2) return std::make_shared<h2_connection<stream>>(*this, slot);
    return std::make_shared<h1_connection<stream>>(*this, slot);
  }
  if (h2) return std::make_shared<h2_connection<tcp::socket>>(*this, slot);
  return std::make_shared<h1_connection<tcp::socket>>(*this, slot);
}

void worker::run() {
  const auto limit = std::chrono::duration_cast<clock::duration>(
      std::chrono::duration<double>(plan_.opts().time_limit_s));
  deadline_.expires_at(control_.start() + limit);
  deadline_.async_wait([this](error_code ec) { on_deadline(ec); });
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    slots_[i] = make_connection(i);
    ++live_;
  }
  // Start only after all slots exist: a start may finish synchronously-posted work later.
  for (auto& c : slots_) c->start();
  ioc_.run();
  // Stopped by the deadline: pending handlers (and the connections they hold) go with ioc_.
}

void worker::release_held() {
  asio::post(ioc_, [this] {
    released_ = true;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      // A copy: closing may end the connection and empty its slot.
      if (auto c = slots_[i]; c && held_[i]) c->release();
    }
  });
}

void worker::on_deadline(error_code ec) {
  if (ec) return;  // cancelled: every connection ended first
  stats_.time_limit_hit = true;
  for (auto& c : slots_) {
    if (c) c->abort(failure::timeout);
  }
  ioc_.stop();
}

void worker::connect(tcp::socket& socket, std::function<void(error_code)> done) {
  connect_queue_.push_back({&socket, std::move(done)});
  start_connects();
}

void worker::start_connects() {
  while (connects_in_flight_ < max_connects_in_flight_ && !connect_queue_.empty()) {
    ++connects_in_flight_;
    stats_.connects_in_flight_peak = std::max<std::uint64_t>(stats_.connects_in_flight_peak, connects_in_flight_);
    auto p = std::move(connect_queue_.front());
    connect_queue_.pop_front();
    attempt_connect(std::move(p));
  }
}

void worker::attempt_connect(pending_connect p) {
  auto& socket = *p.socket;
  asio::async_connect(socket, endpoints_, [this, p = std::move(p)](error_code ec, const tcp::endpoint&) mutable {
    on_connect_attempt(std::move(p), ec);
  });
}

void worker::on_connect_attempt(pending_connect p, error_code ec) {
  ++p.attempts;
  if (ec && worth_retrying(ec) && p.attempts < connect_attempts) {
    ++stats_.connect_retries;
    // The retry keeps its place among the connects in flight: a refusing listener gets no more.
    auto timer = std::make_shared<asio::steady_timer>(ioc_, first_connect_retry_delay * (1u << (p.attempts - 1)));
    timer->async_wait([this, timer, p = std::move(p)](error_code) mutable { attempt_connect(std::move(p)); });
    return;
  }
  if (ec) {
    static std::atomic<bool> told{false};  // one line is enough; the count is in the report
    if (!told.exchange(true)) {
      std::cerr << "loadgen: gave up connecting to " << plan_.authority() << " after " << p.attempts
                << " attempt(s): " << ec.message() << '\n';
    }
    // A server that refuses every retry is gone: end the run now rather than spend the
    // time limit failing one request per connect.
    const auto abandoned = control_.abandon_rest();
    stats_.last_outcome = clock::now();
    stats_.failed += abandoned;
    stats_.failures[static_cast<std::size_t>(failure::connect)] += abandoned;
    control_.failed += abandoned;
  }
  --connects_in_flight_;
  start_connects();
  p.done(ec);
}

std::optional<run_control::ticket> worker::acquire_ticket(std::size_t slot) noexcept {
  const bool first = awaits_first_[slot];
  auto t = control_.acquire(first);
  if (t) awaits_first_[slot] = false;
  return t;
}

void worker::connection_held(std::size_t slot) {
  held_[slot] = true;
  ++held_count_;
  check_settled();
}

void worker::connection_done(std::size_t slot) {
  // The finished connection stays alive through the handler that called us.
  const bool was_held = held_[slot];
  if (was_held) {
    held_[slot] = false;
    --held_count_;
    if (!released_) ++stats_.held_connections_lost;
  }
  // A held connection is never replaced: the set of held connections only shrinks.
  if (!was_held && !control_.exhausted(awaits_first_[slot])) {
    slots_[slot] = make_connection(slot);
    slots_[slot]->start();
    return;
  }
  slots_[slot].reset();
  if (--live_ == 0) deadline_.cancel();
  check_settled();
}

void worker::check_settled() {
  if (!on_settled_ || held_count_ != live_) return;
  stats_.connections_held = held_count_;
  auto notify = std::move(on_settled_);
  on_settled_ = nullptr;
  notify(held_count_);
}

void worker::record_success(clock::time_point start, std::uint64_t body_bytes, bool h2) noexcept {
  stats_.last_outcome = clock::now();
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(stats_.last_outcome - start).count();
  stats_.latency_ns.record(ns > 0 ? static_cast<std::uint64_t>(ns) : 0);
  ++stats_.completed;
  ++(h2 ? stats_.completed_h2 : stats_.completed_h1);
  stats_.body_bytes_received += body_bytes;
  control_.completed.fetch_add(1, std::memory_order_relaxed);
}

void worker::record_failure(failure reason, std::uint64_t body_bytes) noexcept {
  stats_.last_outcome = clock::now();
  ++stats_.failed;
  ++stats_.failures[static_cast<std::size_t>(reason)];
  stats_.body_bytes_received += body_bytes;
  control_.failed.fetch_add(1, std::memory_order_relaxed);
}

void worker::record_cancelled(clock::time_point start, std::uint64_t body_bytes, std::optional<failure> verdict,
                              bool h2) noexcept {
  if (verdict) return record_failure(*verdict, body_bytes);
  ++stats_.cancelled;
  record_success(start, body_bytes, h2);
}

void worker::note_malformed(std::string_view message) {
  if (!stats_.first_malformed.empty()) return;
  stats_.first_malformed = message;
  static std::atomic<bool> told{false};  // one line is enough; the count is in the report
  if (!told.exchange(true)) std::cerr << "loadgen: " << message << "\n";
}

bool worker::fail_one(std::size_t slot, failure reason) noexcept {
  if (!acquire_ticket(slot)) return false;
  record_failure(reason);
  return true;
}

}  // namespace memgate::loadgen
