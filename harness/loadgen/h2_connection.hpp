// One HTTP/2 client connection (h2c prior knowledge or TLS+ALPN h2): a socket-free nghttp2
// session fed with mem_recv and drained with mem_send, up to --streams concurrent streams.
// --cancel-after-bytes resets a stream (RST_STREAM CANCEL) and reuses its slot.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <nghttp2/nghttp2.h>

#include "connection_base.hpp"
#include "plan.hpp"
#include "response_check.hpp"
#include "transport.hpp"

namespace memgate::loadgen {

// One request on a stream; slots are reused, so a request costs no allocation of ours.
struct h2_stream_slot {
  const request_template* req = nullptr;
  clock::time_point start;
  std::uint64_t upload_offset = 0;
  bool saw_status = false;
  bool cancelled = false;  // our RST_STREAM is queued
  std::optional<std::uint64_t> content_length;  // the response's content-length field
  const char* refused = nullptr;  // why nghttp2 refused the response (its static text)
  response_checker checker;

  void reset_for(const request_template& request);
};

// What made a closed stream's response malformed (RFC 9113 8.1.1), as the report says it,
// when nghttp2 refused it: a field or pseudo-header out of rule, a missing :status, a
// content-length the DATA did not match.
std::optional<std::string> malformed_h2_message(const h2_stream_slot& slot);

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
class h2_connection final : public connection_base<h2_connection<Stream>, Stream>, public h2_session_owner {
 public:
  h2_connection(worker& w, std::size_t slot);
  void release() override;

 private:
  friend class connection_base<h2_connection, Stream>;

  static constexpr std::size_t max_read_bytes = 64 * 1024;

  // The protocol, as connection_base asks for it.
  static bool accepts_alpn(std::string_view selected);
  void on_open();
  bool has_room() const noexcept { return !free_.empty() && !goaway_; }
  void issue(std::uint64_t seq);
  void do_write();
  boost::asio::mutable_buffer read_space(std::size_t limit) { return {read_buffer_.data(), limit}; }
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  template <class Record>
  void drop_in_flight(Record record) {
    for (auto& s : streams_) {
      if (std::find(free_.begin(), free_.end(), &s) == free_.end()) record(s.checker.body_bytes());
    }
    free_.clear();
    for (auto& s : streams_) free_.push_back(&s);
  }
  void cancel_protocol_timers() { linger_timer_.cancel(); }

  bool start_session();
  bool idle_and_finished() const noexcept;
  bool bytes_waiting();  // unread bytes in the socket's receive buffer
  void settle();
  void drain();

  void on_stream_closed(h2_stream_slot& slot, std::uint32_t error_code) override;
  void on_body_frame(h2_stream_slot& slot, std::int32_t stream_id) override;
  void on_goaway() override { goaway_ = true; }

  boost::asio::steady_timer linger_timer_;
  std::unique_ptr<nghttp2_session, nghttp2_session_deleter> session_;
  std::vector<h2_stream_slot> streams_;  // --streams slots
  std::vector<h2_stream_slot*> free_;
  bool goaway_ = false;
  bool closing_ = false;   // our GOAWAY is queued
  bool draining_ = false;  // our GOAWAY is written and our side shut down: read until the server closes
  // Our RST_STREAM is queued: it goes out after this read, not once the socket drains. A slow
  // reader's socket never drains while the server still sends the stream it is cancelling.
  bool reset_queued_ = false;
  std::vector<std::uint8_t> write_buffer_;
  std::array<std::uint8_t, max_read_bytes> read_buffer_;
};

extern template class h2_connection<tcp_stream_type>;
extern template class h2_connection<tls_stream_type>;

}  // namespace memgate::loadgen
