#include "transport/listener.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>

#include <chrono>
#include <iostream>

namespace memgate::transport {
namespace net = boost::asio;
using tcp = net::ip::tcp;

listener::listener(net::io_context& context, worker_pool& workers, const tcp::endpoint& endpoint,
                   std::uint32_t max_connections, handler on_connection)
    : acceptor_(context),
      retry_timer_(context),
      workers_(workers),
      max_connections_(max_connections),
      on_connection_(std::move(on_connection)) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(net::socket_base::max_listen_connections);
}

void listener::start() { do_accept(); }

void listener::stop() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  retry_timer_.cancel();
}

void listener::do_accept() {
  acceptor_.async_accept(workers_.next(), boost::beast::bind_front_handler(&listener::on_accept, shared_from_this()));
}

void listener::on_accept(boost::system::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;  // stopped
  if (ec) {
    // EMFILE and friends: keep serving the connections we have. The connection stays in
    // the backlog, so an immediate retry would fail again at once: wait a little.
    std::cerr << "refserver: accept failed: " << ec.message() << "\n";
    retry_timer_.expires_after(std::chrono::milliseconds(100));
    retry_timer_.async_wait([self = shared_from_this()](boost::system::error_code wait_ec) {
      if (!wait_ec) self->do_accept();
    });
    return;
  }
  if (connection_slot::open_connections() >= max_connections_) {
    socket.close(ec);  // over --max-connections: refuse at once
    return do_accept();
  }
  socket.set_option(tcp::no_delay(true), ec);
  auto executor = socket.get_executor();
  net::post(executor, [handler = on_connection_, socket = std::move(socket)]() mutable {
    handler(std::move(socket), connection_slot{});
  });
  do_accept();
}

}  // namespace memgate::transport
