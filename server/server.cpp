#include "server.hpp"

#include "http1/connection.hpp"
#include "http2/connection.hpp"
#include "http2/preface.hpp"
#include "thread_caches.hpp"
#include "transport/streams.hpp"
#include "transport/tls.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <chrono>

namespace memgate {
namespace net = boost::asio;
namespace beast = boost::beast;

namespace {

// Reads the first bytes of a cleartext connection: the h2 client preface means
// h2c with prior knowledge, anything else is HTTP/1.1.
class plain_protocol_detector : public std::enable_shared_from_this<plain_protocol_detector> {
 public:
  plain_protocol_detector(net::ip::tcp::socket socket, transport::connection_slot slot, app::services& app,
                          const strategy::strategies& strategies)
      : stream_(std::move(socket)), slot_(std::move(slot)), app_(app), strategies_(strategies) {}

  void run() {
    transport::expire_after_ms(stream_, app_.config.limits.header_read_timeout_ms);
    do_read();
  }

 private:
  void do_read() {
    stream_.async_read_some(buffer_.prepare(http2::client_preface.size() - buffer_.size()),
                            beast::bind_front_handler(&plain_protocol_detector::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t bytes) {
    if (ec) return;  // closed or timed out before saying anything
    buffer_.commit(bytes);
    const auto seen = buffer_.data();
    switch (http2::match_preface({static_cast<const char*>(seen.data()), seen.size()})) {
      case http2::preface_match::partial:
        return do_read();
      case http2::preface_match::full:
        return http2::start_connection(std::move(stream_), std::move(buffer_), std::move(slot_), app_, strategies_);
      case http2::preface_match::no:
        return http1::start_connection(std::move(stream_), std::move(buffer_), std::move(slot_), app_, strategies_);
    }
  }

  transport::plain_stream stream_;
  beast::flat_buffer buffer_;
  transport::connection_slot slot_;
  app::services& app_;
  const strategy::strategies& strategies_;
};

// TLS: the handshake's ALPN result picks the protocol.
class tls_protocol_detector : public std::enable_shared_from_this<tls_protocol_detector> {
 public:
  tls_protocol_detector(net::ip::tcp::socket socket, net::ssl::context& tls, transport::connection_slot slot,
                        app::services& app, const strategy::strategies& strategies)
      : stream_(std::move(socket), tls), slot_(std::move(slot)), app_(app), strategies_(strategies) {}

  void run() {
    transport::expire_after_ms(stream_, app_.config.limits.header_read_timeout_ms);
    stream_.async_handshake(net::ssl::stream_base::server,
                            beast::bind_front_handler(&tls_protocol_detector::on_handshake, shared_from_this()));
  }

 private:
  void on_handshake(beast::error_code ec) {
    if (ec) return;
    const unsigned char* protocol = nullptr;
    unsigned int length = 0;
    SSL_get0_alpn_selected(stream_.native_handle(), &protocol, &length);
    const std::string_view selected(reinterpret_cast<const char*>(protocol), length);
    if (selected == "h2") return http2::start_connection(std::move(stream_), {}, std::move(slot_), app_, strategies_);
    http1::start_connection(std::move(stream_), {}, std::move(slot_), app_, strategies_);
  }

  transport::tls_stream stream_;
  transport::connection_slot slot_;
  app::services& app_;
  const strategy::strategies& strategies_;
};

}  // namespace

server::server(server_config config)
    : config_(std::move(config)),
      workers_(config_.threads),
      json_(config_.json),
      sampler_(config_, workers_.executors(), release_thread_caches),
      services_{config_, json_, sampler_, draining_},
      strategies_(config_),
      drain_timer_(control_) {
  if (config_.tls()) tls_.emplace(transport::make_tls_context(config_.tls_cert_path, config_.tls_key_path));
  const net::ip::tcp::endpoint endpoint(net::ip::make_address(config_.host), config_.port);
  listener_ = std::make_shared<transport::listener>(
      control_, workers_, endpoint, config_.limits.max_connections,
      [this](net::ip::tcp::socket socket, transport::connection_slot slot) { on_connection(std::move(socket), std::move(slot)); });
}

server::~server() {
  workers_.stop();
  workers_.join();
}

void server::on_connection(net::ip::tcp::socket socket, transport::connection_slot slot) {
  if (tls_) {
    std::make_shared<tls_protocol_detector>(std::move(socket), *tls_, std::move(slot), services_, strategies_)->run();
  } else {
    std::make_shared<plain_protocol_detector>(std::move(socket), std::move(slot), services_, strategies_)->run();
  }
}

int server::run() {
  net::signal_set signals(control_, SIGINT, SIGTERM);
  signals.async_wait([this](beast::error_code ec, int) {
    if (!ec) drain();
  });
  listener_->start();
  workers_.start();
  control_.run();
  workers_.stop();
  workers_.join();
  return 0;
}

void server::stop() {
  net::post(control_, [this] { drain(); });
}

// Stop accepting; responses in flight get the grace period; then stop the loops.
void server::drain() {
  if (draining_.exchange(true)) return;
  listener_->stop();
  wait_for_drained(std::chrono::steady_clock::now() + std::chrono::milliseconds(config_.limits.shutdown_grace_ms));
}

void server::wait_for_drained(std::chrono::steady_clock::time_point deadline) {
  if (transport::connection_slot::open_connections() == 0 || std::chrono::steady_clock::now() >= deadline) {
    control_.stop();
    return;
  }
  drain_timer_.expires_after(std::chrono::milliseconds(20));
  drain_timer_.async_wait([this, deadline](beast::error_code) { wait_for_drained(deadline); });
}

}  // namespace memgate
