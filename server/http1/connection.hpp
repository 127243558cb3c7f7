#pragma once
// The one adapter between a transport and the socket-free http1::session: it owns the
// socket and its deadlines, reads while the session wants input, writes what the session
// collects with one scatter/gather write at a time, and closes as the session says.
// Between requests it holds no read buffer (it waits for the next one with none, then
// reads it into its thread's, pooled_read.hpp) and, over TLS, no record buffers.
#include "app/services.hpp"
#include "http1/session.hpp"
#include "metrics/allocation_charge.hpp"
#include "transport/connection_slot.hpp"
#include "transport/deadline.hpp"
#include "transport/record_buffers.hpp"

#include <boost/beast/core/flat_buffer.hpp>

#include <memory>
#include <span>
#include <vector>

namespace memgate::http1 {

template <typename Stream>
class connection final : public std::enable_shared_from_this<connection<Stream>>, private session_owner {
 public:
  connection(Stream&& stream, boost::beast::flat_buffer&& already_read, transport::connection_slot&& slot,
             app::services& app, const strategy::strategies& strategies);
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  void run();

 private:
  using error_code = boost::system::error_code;

  // session_owner
  void wake() override { pump(); }
  std::shared_ptr<session> hold() override { return {this->shared_from_this(), &session_}; }

  // Writes what the session has; else reads if it wants input, or ends the connection.
  void pump();
  void do_read();
  void on_read(error_code ec, std::size_t bytes);                    // into the session's input
  void on_read_lent(error_code ec, std::span<const std::uint8_t> bytes);  // into the thread's buffer
  void after_read(error_code ec);
  void on_read_deadline();
  void on_write(error_code ec, std::size_t bytes);
  void do_close();
  void linger();
  void close_now();

  Stream stream_;
  transport::record_buffers<Stream> record_buffers_;
  transport::connection_slot slot_;
  app::services& app_;
  session session_;
  bool reading_ = false;
  bool writing_ = false;
  bool closed_ = false;
  transport::deadline read_deadline_;
  std::vector<std::uint8_t> linger_buffer_;
};

template <typename Stream>
void start_connection(Stream&& stream, boost::beast::flat_buffer&& already_read, transport::connection_slot&& slot,
                      app::services& app, const strategy::strategies& strategies) {
  const metrics::allocations_of charge(metrics::protocol::h1);
  std::make_shared<connection<Stream>>(std::move(stream), std::move(already_read), std::move(slot), app, strategies)
      ->run();
}

}  // namespace memgate::http1
