#pragma once
// Accepts TCP connections and hands each, already bound to its worker thread,
// to whoever the server says handles connections. Knows no protocol.
#include "transport/connection_slot.hpp"
#include "transport/worker_pool.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <memory>

namespace memgate::transport {

class listener : public std::enable_shared_from_this<listener> {
 public:
  using handler = std::function<void(boost::asio::ip::tcp::socket, connection_slot)>;

  // Throws boost::system::system_error when the address cannot be bound.
  listener(boost::asio::io_context& context, worker_pool& workers, const boost::asio::ip::tcp::endpoint& endpoint,
           std::uint32_t max_connections, handler on_connection);

  boost::asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  void start();
  void stop();

 private:
  void do_accept();
  void on_accept(boost::system::error_code ec, boost::asio::ip::tcp::socket socket);

  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;  // after a failed accept (EMFILE), so it does not spin
  worker_pool& workers_;
  std::uint32_t max_connections_;
  handler on_connection_;
};

}  // namespace memgate::transport
