#include "worker.hpp"

#include <boost/asio/ssl/stream.hpp>

#include "h1_connection.hpp"
#include "h2_connection.hpp"

namespace memgate::loadgen {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

worker::worker(const plan& p, run_control& control, asio::ssl::context* tls, endpoints eps,
               std::uint32_t connections)
    : plan_(p), control_(control), tls_(tls), endpoints_(std::move(eps)), deadline_(ioc_), slots_(connections) {}

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
  deadline_.async_wait([this](boost::system::error_code ec) { on_deadline(ec); });
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    slots_[i] = make_connection(i);
    ++live_;
  }
  // Start only after all slots exist: a start may finish synchronously-posted work later.
  for (auto& c : slots_) c->start();
  ioc_.run();
  // Stopped by the deadline: pending handlers (and the connections they hold) go with ioc_.
}

void worker::on_deadline(boost::system::error_code ec) {
  if (ec) return;  // cancelled: every connection ended first
  stats_.time_limit_hit = true;
  for (auto& c : slots_) {
    if (c) c->abort(failure::timeout);
  }
  ioc_.stop();
}

void worker::connection_done(std::size_t slot) {
  // The finished connection stays alive through the handler that called us.
  if (!control_.exhausted()) {
    slots_[slot] = make_connection(slot);
    slots_[slot]->start();
    return;
  }
  slots_[slot].reset();
  if (--live_ == 0) deadline_.cancel();
}

void worker::record_success(clock::time_point start, std::uint64_t body_bytes, bool h2) noexcept {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - start).count();
  stats_.latency_ns.record(ns > 0 ? static_cast<std::uint64_t>(ns) : 0);
  ++stats_.completed;
  ++(h2 ? stats_.completed_h2 : stats_.completed_h1);
  stats_.body_bytes_received += body_bytes;
  control_.completed.fetch_add(1, std::memory_order_relaxed);
}

void worker::record_failure(failure reason, std::uint64_t body_bytes) noexcept {
  ++stats_.failed;
  ++stats_.failures[static_cast<std::size_t>(reason)];
  stats_.body_bytes_received += body_bytes;
  control_.failed.fetch_add(1, std::memory_order_relaxed);
}

bool worker::fail_one(failure reason) noexcept {
  if (!control_.acquire()) return false;
  record_failure(reason);
  return true;
}

}  // namespace memgate::loadgen
