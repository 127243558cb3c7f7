#include "h2_connection.hpp"

#include <algorithm>
#include <atomic>
#include <iostream>

#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>

#include "worker.hpp"

namespace memgate::loadgen {

namespace asio = boost::asio;
namespace beast = boost::beast;
using beast::error_code;

namespace {
constexpr std::size_t write_flush_bytes = 64 * 1024;
// How long a closing connection waits for the server to close after our GOAWAY.
constexpr auto linger_after_goaway = std::chrono::seconds(1);
}  // namespace

template <class Stream>
h2_connection<Stream>::h2_connection(worker& w, std::size_t slot)
    : worker_(w),
      slot_(slot),
      stream_(make_stream<Stream>(w.ioc(), w.tls())),
      rate_timer_(w.ioc()),
      linger_timer_(w.ioc()),
      pacer_(w.ioc(), w.the_plan().opts().read_rate_bytes_per_s),
      streams_(w.the_plan().opts().streams) {
  free_.reserve(streams_.size());
  for (auto& s : streams_) free_.push_back(&s);
  write_buffer_.reserve(2 * write_flush_bytes);
}

template <class Stream>
void h2_connection<Stream>::start() {
  worker_.connect(socket_of(stream_), [self = this->shared_from_this()](error_code ec) { self->on_connect(ec); });
}

template <class Stream>
void h2_connection<Stream>::on_connect(error_code ec) {
  if (done_) return;
  if (ec) {
    worker_.fail_one(slot_, failure::connect);
    return finish();
  }
  socket_of(stream_).set_option(asio::ip::tcp::no_delay(true), ec);  // best effort
  if constexpr (is_tls_v<Stream>) {
    set_server_name(stream_, worker_.the_plan().opts().urls.front().host);
    stream_.async_handshake(asio::ssl::stream_base::client,
                            beast::bind_front_handler(&h2_connection::on_handshake, this->shared_from_this()));
  } else {
    on_handshake({});
  }
}

template <class Stream>
void h2_connection<Stream>::on_handshake(error_code ec) {
  if (done_) return;
  if (ec) {
    worker_.fail_one(slot_, failure::tls);
    return finish();
  }
  if constexpr (is_tls_v<Stream>) {
    if (alpn_selected(stream_) != "h2") {
      static std::atomic<bool> warned{false};  // one line is enough; the count is in the report
      if (!warned.exchange(true)) {
        std::cerr << "loadgen: TLS server did not select h2 via ALPN (selected '"
                  << std::string(alpn_selected(stream_)) << "')\n";
      }
      worker_.fail_one(slot_, failure::tls);
      return finish();
    }
  }
  ++worker_.mutable_stats().connections_opened;
  if (!start_session()) {
    worker_.fail_one(slot_, failure::protocol);
    return finish();
  }
  do_write();
  do_read();
}

template <class Stream>
bool h2_connection<Stream>::start_session() {
  session_.reset(new_client_session(*this));
  if (!session_) return false;
  const auto window = static_cast<std::int32_t>((std::uint32_t{1} << worker_.the_plan().opts().window_bits) - 1);
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<std::uint32_t>(window)},
  };
  if (nghttp2_submit_settings(session_.get(), NGHTTP2_FLAG_NONE, settings, std::size(settings)) != 0) return false;
  return nghttp2_session_set_local_window_size(session_.get(), NGHTTP2_FLAG_NONE, 0, window) == 0;
}

template <class Stream>
void h2_connection<Stream>::do_fill() {
  const auto quota = worker_.the_plan().opts().requests_per_connection;
  while (!free_.empty() && !no_more_ && !goaway_ && !waiting_) {
    if (quota != 0 && issued_ >= quota) {
      no_more_ = true;
      break;
    }
    const auto ticket = worker_.acquire_ticket(slot_);
    if (!ticket) {
      no_more_ = true;
      break;
    }
    ++issued_;
    if (ticket->due > clock::now()) {
      waiting_ = ticket;
      rate_timer_.expires_at(ticket->due);
      rate_timer_.async_wait(beast::bind_front_handler(&h2_connection::on_rate, this->shared_from_this()));
      break;
    }
    submit(ticket->seq);
  }
}

template <class Stream>
void h2_connection<Stream>::on_rate(error_code ec) {
  if (done_ || ec) return;  // cancelled only when the connection ends; its ticket was counted then
  const auto seq = waiting_->seq;
  waiting_.reset();
  submit(seq);
  do_write();
}

template <class Stream>
void h2_connection<Stream>::submit(std::uint64_t seq) {
  h2_stream_slot* slot = free_.back();
  free_.pop_back();
  slot->req = &worker_.the_plan().for_seq(seq);
  slot->start = clock::now();
  slot->upload_offset = 0;
  slot->saw_status = false;
  slot->cancelled = false;
  slot->checker.reset(slot->req->expect);
  const auto& hdrs = slot->req->h2_headers;
  nghttp2_data_provider provider = upload_provider(*slot);
  const auto id = nghttp2_submit_request(session_.get(), nullptr, hdrs.data(), hdrs.size(),
                                         slot->req->post ? &provider : nullptr, slot);
  if (id < 0) {
    worker_.record_failure(failure::protocol);
    free_.push_back(slot);
  }
}

template <class Stream>
void h2_connection<Stream>::on_body_frame(h2_stream_slot& slot, std::int32_t stream_id) {
  const auto limit = worker_.the_plan().opts().cancel_after_bytes;
  if (limit == 0 || slot.cancelled || slot.checker.body_bytes() < limit) return;
  // Closes the stream once sent (on_stream_closed follows); bytes still in flight for it are
  // discarded by nghttp2 and still counted against the connection window.
  if (nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL) == 0) {
    slot.cancelled = true;
  }
}

template <class Stream>
void h2_connection<Stream>::on_stream_closed(h2_stream_slot& slot, std::uint32_t error_code) {
  const auto body = slot.checker.body_bytes();
  if (slot.cancelled) {
    worker_.record_cancelled(slot.start, body, slot.checker.abandon(), true);
  } else if (error_code != NGHTTP2_NO_ERROR || !slot.saw_status) {
    worker_.record_failure(failure::protocol, body);
  } else if (const auto verdict = slot.checker.finish()) {
    worker_.record_failure(*verdict, body);
  } else {
    worker_.record_success(slot.start, body, true);
  }
  free_.push_back(&slot);
}

template <class Stream>
void h2_connection<Stream>::do_write() {
  if (writing_ || done_) return;
  // Slots freed since the last write (a response ended, or our RST_STREAM went out) take the
  // next requests before anything is sent.
  do_fill();
  settle();
  write_buffer_.clear();
  while (write_buffer_.size() < write_flush_bytes) {
    const std::uint8_t* data = nullptr;
    const auto n = nghttp2_session_mem_send(session_.get(), &data);
    if (n < 0) return fail_all(failure::protocol);
    if (n == 0) break;
    write_buffer_.insert(write_buffer_.end(), data, data + n);
  }
  if (write_buffer_.empty()) {
    if (closing_) drain();
    return;
  }
  writing_ = true;
  asio::async_write(stream_, asio::buffer(write_buffer_),
                    beast::bind_front_handler(&h2_connection::on_write, this->shared_from_this()));
}

template <class Stream>
void h2_connection<Stream>::on_write(error_code ec, std::size_t bytes) {
  writing_ = false;
  if (done_) return;
  worker_.mutable_stats().bytes_sent += bytes;
  if (ec) return fail_all(failure::reset);
  do_write();
}

template <class Stream>
void h2_connection<Stream>::do_read() {
  pacer_.next(read_buffer_.size(), [self = this->shared_from_this()](std::size_t limit) {
    self->stream_.async_read_some(asio::buffer(self->read_buffer_.data(), limit),
                                  beast::bind_front_handler(&h2_connection::on_read, self));
  });
}

template <class Stream>
void h2_connection<Stream>::on_read(error_code ec, std::size_t bytes) {
  if (done_) return;
  if (draining_) {
    worker_.mutable_stats().bytes_received += bytes;
    if (ec) return finish();  // the server closed too
    pacer_.consumed(bytes);
    return do_read();
  }
  if (ec) return fail_all(failure::reset);  // finish() ignores it when nothing is outstanding
  pacer_.consumed(bytes);
  worker_.mutable_stats().bytes_received += bytes;
  const auto rv = nghttp2_session_mem_recv(session_.get(), read_buffer_.data(), bytes);
  if (rv < 0) return fail_all(failure::protocol);
  // Write once the socket is drained, as h2load does: the requests that the responses in
  // every pending read freed up then go out together, not one write (and one server read)
  // per response. Bytes waiting mean the next read completes at once and writes then. A read
  // that did not fill the buffer found the socket drained: no need to ask.
  if (bytes < read_buffer_.size() || !bytes_waiting()) do_write();
  if (done_) return;
  if (!nghttp2_session_want_read(session_.get()) && !nghttp2_session_want_write(session_.get()) && !writing_) {
    return fail_all(failure::protocol);
  }
  do_read();
}

template <class Stream>
bool h2_connection<Stream>::bytes_waiting() {
  error_code ec;
  const auto waiting = socket_of(stream_).available(ec);
  return !ec && waiting > 0;
}

template <class Stream>
bool h2_connection<Stream>::idle_and_finished() const noexcept {
  return free_.size() == streams_.size() && (no_more_ || goaway_) && !waiting_;
}

// Nothing left to ask: hold the connection (--hold, unless the server is going away or it
// served nothing), else say GOAWAY and close once that is written.
template <class Stream>
void h2_connection<Stream>::settle() {
  if (!idle_and_finished() || closing_ || held_) return;
  if (worker_.the_plan().opts().hold && !goaway_ && issued_ > 0) {
    held_ = true;
    worker_.connection_held(slot_);
    return;
  }
  closing_ = true;
  nghttp2_session_terminate_session(session_.get(), NGHTTP2_NO_ERROR);
}

// Closing at once would reset the connection if bytes were still arriving (DATA in flight for
// a cancelled stream), and a reset makes the server drop our unread GOAWAY. So: FIN after the
// GOAWAY, discard what still comes, close when the server does (or after a grace period).
template <class Stream>
void h2_connection<Stream>::drain() {
  if (draining_) return;
  draining_ = true;
  error_code ignored;
  socket_of(stream_).shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  linger_timer_.expires_after(linger_after_goaway);
  linger_timer_.async_wait([self = this->shared_from_this()](error_code ec) {
    if (!ec) self->finish();
  });
}

template <class Stream>
void h2_connection<Stream>::release() {
  if (!held_ || closing_ || done_) return;
  closing_ = true;
  nghttp2_session_terminate_session(session_.get(), NGHTTP2_NO_ERROR);
  do_write();
}

template <class Stream>
void h2_connection<Stream>::fail_all(failure reason) {
  if (done_) return;
  for (auto& s : streams_) {
    if (std::find(free_.begin(), free_.end(), &s) == free_.end()) worker_.record_failure(reason, s.checker.body_bytes());
  }
  free_.clear();
  for (auto& s : streams_) free_.push_back(&s);
  if (waiting_) {
    worker_.record_failure(reason);
    waiting_.reset();
  }
  finish();
}

template <class Stream>
void h2_connection<Stream>::abort(failure reason) {
  if (done_) return;
  for (std::size_t i = free_.size(); i < streams_.size(); ++i) worker_.record_failure(reason);
  if (waiting_) worker_.record_failure(reason);
  waiting_.reset();
  done_ = true;
  error_code ignored;
  socket_of(stream_).close(ignored);
  rate_timer_.cancel();
  linger_timer_.cancel();
  pacer_.cancel();
}

template <class Stream>
void h2_connection<Stream>::finish() {
  if (done_) return;
  done_ = true;
  error_code ignored;
  socket_of(stream_).shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_of(stream_).close(ignored);
  rate_timer_.cancel();
  linger_timer_.cancel();
  pacer_.cancel();
  worker_.connection_done(slot_);
}

template class h2_connection<tcp_stream_type>;
template class h2_connection<tls_stream_type>;

}  // namespace memgate::loadgen
