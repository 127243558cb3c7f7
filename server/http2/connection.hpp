#pragma once
// The one adapter between a transport and the socket-free http2::session:
// bytes read are fed in, collected output is written with one scatter/gather
// write at a time, and the session can ask to be flushed after async work.
// nghttp2 takes every byte it is given (a partial frame it keeps itself), so the
// connection holds no read buffer: it reads into its thread's (pooled_read.hpp).
#include "app/services.hpp"
#include "http2/session.hpp"
#include "metrics/allocation_charge.hpp"
#include "transport/connection_slot.hpp"
#include "transport/deadline.hpp"
#include "transport/record_buffers.hpp"

#include <boost/beast/core/flat_buffer.hpp>

#include <memory>
#include <span>

namespace memgate::http2 {

template <typename Stream>
class connection : public std::enable_shared_from_this<connection<Stream>> {
 public:
  connection(Stream&& stream, boost::beast::flat_buffer&& already_read, transport::connection_slot&& slot,
             app::services& app, const strategy::strategies& strategies);
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  void run();

 private:
  using error_code = boost::system::error_code;

  bool feed(std::span<const std::uint8_t> bytes);  // false: the connection was closed
  void do_read();
  void on_read(error_code ec, std::span<const std::uint8_t> bytes);
  void do_write();
  void on_write(error_code ec, std::size_t bytes);
  void close();
  void release_idle_tls_buffers();
  void refresh_deadline();
  void on_deadline();

  Stream stream_;
  transport::record_buffers<Stream> record_buffers_;
  boost::beast::flat_buffer already_read_;
  transport::connection_slot slot_;
  app::services& app_;
  const strategy::strategies& strategies_;
  std::shared_ptr<session> session_;
  bool writing_ = false;
  bool closing_ = false;  // a connection error: flush the GOAWAY, then close
  bool stall_deadline_armed_ = false;
  transport::deadline deadline_;  // idle, or a stall; none while a write (with its own) is under way
};

template <typename Stream>
void start_connection(Stream&& stream, boost::beast::flat_buffer&& already_read, transport::connection_slot&& slot,
                      app::services& app, const strategy::strategies& strategies) {
  const metrics::allocations_of charge(metrics::protocol::h2);
  std::make_shared<connection<Stream>>(std::move(stream), std::move(already_read), std::move(slot), app, strategies)
      ->run();
}

}  // namespace memgate::http2
