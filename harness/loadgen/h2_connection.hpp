// One HTTP/2 client connection (h2c prior knowledge or TLS+ALPN h2): a socket-free nghttp2
// session fed with mem_recv and drained with mem_send, up to --streams concurrent streams.
// --cancel-after-bytes resets a stream (RST_STREAM CANCEL) and reuses its slot.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <nghttp2/nghttp2.h>

#include "connection.hpp"
#include "plan.hpp"
#include "read_pacer.hpp"
#include "response_check.hpp"
#include "transport.hpp"

namespace memgate::loadgen {

class worker;

// One request on a stream; slots are reused, so a request costs no allocation of ours.
struct h2_stream_slot {
  const request_template* req = nullptr;
  clock::time_point start;
  std::uint64_t upload_offset = 0;
  bool saw_status = false;
  bool cancelled = false;  // our RST_STREAM is queued
  response_checker checker;
};

struct nghttp2_session_deleter {
  void operator()(nghttp2_session* s) const noexcept { nghttp2_session_del(s); }
};

// Callbacks reach the connection through this non-template interface (see h2_callbacks.cpp).
class h2_session_owner {
 public:
  virtual ~h2_session_owner() = default;
  virtual void on_stream_closed(h2_stream_slot& slot, std::uint32_t error_code) = 0;
  // A DATA frame that does not end its stream was received in full.
  virtual void on_body_frame(h2_stream_slot& slot, std::int32_t stream_id) = 0;
  virtual void on_goaway() = 0;
};

// Creates a client session with every callback registered (one place), user_data = owner.
nghttp2_session* new_client_session(h2_session_owner& owner);
// Streams the slot's upload (the pattern, req->body_bytes long) through flow control.
nghttp2_data_provider upload_provider(h2_stream_slot& slot);

template <class Stream>
class h2_connection final : public connection,
                            public h2_session_owner,
                            public std::enable_shared_from_this<h2_connection<Stream>> {
 public:
  h2_connection(worker& w, std::size_t slot);
  void start() override;
  void abort(failure reason) override;
  void release() override;

 private:
  void on_connect(boost::beast::error_code ec);
  void on_handshake(boost::beast::error_code ec);
  bool start_session();
  void do_fill();
  void on_rate(boost::beast::error_code ec);
  void submit(std::uint64_t seq);
  void do_write();
  void on_write(boost::beast::error_code ec, std::size_t bytes);
  void do_read();
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  bool idle_and_finished() const noexcept;
  bool bytes_waiting();  // unread bytes in the socket's receive buffer
  void settle();
  void drain();
  void fail_all(failure reason);
  void finish();

  void on_stream_closed(h2_stream_slot& slot, std::uint32_t error_code) override;
  void on_body_frame(h2_stream_slot& slot, std::int32_t stream_id) override;
  void on_goaway() override { goaway_ = true; }

  worker& worker_;
  const std::size_t slot_;
  Stream stream_;
  boost::asio::steady_timer rate_timer_;
  boost::asio::steady_timer linger_timer_;
  read_pacer pacer_;
  std::unique_ptr<nghttp2_session, nghttp2_session_deleter> session_;
  std::vector<h2_stream_slot> streams_;  // --streams slots
  std::vector<h2_stream_slot*> free_;
  std::optional<run_control::ticket> waiting_;
  std::uint64_t issued_ = 0;
  bool no_more_ = false;
  bool goaway_ = false;
  bool writing_ = false;
  bool closing_ = false;   // our GOAWAY is queued
  bool draining_ = false;  // our GOAWAY is written and our side shut down: read until the server closes
  bool held_ = false;
  bool done_ = false;
  std::vector<std::uint8_t> write_buffer_;
  std::array<std::uint8_t, 64 * 1024> read_buffer_;
};

extern template class h2_connection<tcp_stream_type>;
extern template class h2_connection<tls_stream_type>;

}  // namespace memgate::loadgen
