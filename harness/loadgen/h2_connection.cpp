#include "h2_connection.hpp"

#include <atomic>
#include <iostream>
#include <string>

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
    : connection_base<h2_connection, Stream>(w, slot), linger_timer_(w.ioc()), streams_(w.the_plan().opts().streams) {
  free_.reserve(streams_.size());
  for (auto& s : streams_) free_.push_back(&s);
  write_buffer_.reserve(2 * write_flush_bytes);
}

template <class Stream>
bool h2_connection<Stream>::accepts_alpn(std::string_view selected) {
  if (selected == "h2") return true;
  static std::atomic<bool> warned{false};  // one line is enough; the count is in the report
  if (!warned.exchange(true)) {
    std::cerr << "loadgen: TLS server did not select h2 via ALPN (selected '" << std::string(selected) << "')\n";
  }
  return false;
}

template <class Stream>
void h2_connection<Stream>::on_open() {
  if (!start_session()) return this->fail_to_open(failure::protocol);
  do_write();
  this->do_read();
}

template <class Stream>
bool h2_connection<Stream>::start_session() {
  session_.reset(new_client_session(*this));
  if (!session_) return false;
  const auto window = static_cast<std::int32_t>((std::uint32_t{1} << this->opts().window_bits) - 1);
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<std::uint32_t>(window)},
  };
  if (nghttp2_submit_settings(session_.get(), NGHTTP2_FLAG_NONE, settings, std::size(settings)) != 0) return false;
  return nghttp2_session_set_local_window_size(session_.get(), NGHTTP2_FLAG_NONE, 0, window) == 0;
}

template <class Stream>
void h2_connection<Stream>::issue(std::uint64_t seq) {
  h2_stream_slot* slot = free_.back();
  free_.pop_back();
  slot->reset_for(this->worker_.the_plan().for_seq(seq));
  const auto& hdrs = slot->req->h2_headers;
  nghttp2_data_provider provider = upload_provider(*slot);
  const auto id = nghttp2_submit_request(session_.get(), nullptr, hdrs.data(), hdrs.size(),
                                         slot->req->post ? &provider : nullptr, slot);
  if (id < 0) {
    this->worker_.record_failure(failure::protocol);
    free_.push_back(slot);
  }
}

template <class Stream>
void h2_connection<Stream>::on_body_frame(h2_stream_slot& slot, std::int32_t stream_id) {
  const auto limit = this->opts().cancel_after_bytes;
  if (limit == 0 || slot.cancelled || slot.checker.body_bytes() < limit) return;
  // Closes the stream once sent (on_stream_closed follows); bytes still in flight for it are
  // discarded by nghttp2 and still counted against the connection window.
  if (nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL) == 0) {
    slot.cancelled = true;
    reset_queued_ = true;
  }
}

template <class Stream>
void h2_connection<Stream>::on_stream_closed(h2_stream_slot& slot, std::uint32_t error_code) {
  const auto body = slot.checker.body_bytes();
  if (slot.saw_status) this->worker_.count_status(slot.checker.status());
  if (slot.cancelled) {
    this->worker_.record_cancelled(slot.start, body, slot.checker.abandon(), true);
  } else if (const auto malformed = malformed_h2_message(slot)) {
    this->worker_.note_malformed(*malformed);
    this->worker_.record_failure(failure::malformed, body);
  } else if (error_code != NGHTTP2_NO_ERROR || !slot.saw_status) {
    this->worker_.record_failure(failure::protocol, body);
  } else if (const auto verdict = slot.checker.finish()) {
    this->worker_.record_failure(*verdict, body);
  } else {
    this->worker_.record_success(slot.start, body, true);
  }
  free_.push_back(&slot);
}

template <class Stream>
void h2_connection<Stream>::do_write() {
  if (this->writing_ || this->done_) return;
  // Slots freed since the last write (a response ended, or our RST_STREAM went out) take the
  // next requests before anything is sent.
  this->take_tickets();
  settle();
  reset_queued_ = false;
  write_buffer_.clear();
  while (write_buffer_.size() < write_flush_bytes) {
    const std::uint8_t* data = nullptr;
    const auto n = nghttp2_session_mem_send(session_.get(), &data);
    if (n < 0) return this->fail_all(failure::protocol);
    if (n == 0) break;
    write_buffer_.insert(write_buffer_.end(), data, data + n);
  }
  if (write_buffer_.empty()) {
    if (closing_) drain();
    return;
  }
  this->start_write(asio::buffer(write_buffer_));
}

template <class Stream>
void h2_connection<Stream>::on_read(error_code ec, std::size_t bytes) {
  if (this->done_) return;
  auto& stats = this->worker_.mutable_stats();
  if (draining_) {
    stats.bytes_received += bytes;
    if (ec) return this->finish();  // the server closed too
    this->pacer_.consumed(bytes);
    return this->do_read();
  }
  if (ec) return this->fail_all(failure::reset);  // finish() ignores it when nothing is outstanding
  this->pacer_.consumed(bytes);
  stats.bytes_received += bytes;
  const auto rv = nghttp2_session_mem_recv(session_.get(), read_buffer_.data(), bytes);
  if (rv < 0) return this->fail_all(failure::protocol);
  // Write once the socket is drained, as h2load does: the requests that the responses in
  // every pending read freed up then go out together, not one write (and one server read)
  // per response. Bytes waiting mean the next read completes at once and writes then. A read
  // that did not fill the buffer found the socket drained: no need to ask.
  if (reset_queued_ || bytes < read_buffer_.size() || !bytes_waiting()) do_write();
  if (this->done_) return;
  if (!nghttp2_session_want_read(session_.get()) && !nghttp2_session_want_write(session_.get()) && !this->writing_) {
    return this->fail_all(failure::protocol);
  }
  this->do_read();
}

template <class Stream>
bool h2_connection<Stream>::bytes_waiting() {
  error_code ec;
  const auto waiting = socket_of(this->stream_).available(ec);
  return !ec && waiting > 0;
}

template <class Stream>
bool h2_connection<Stream>::idle_and_finished() const noexcept {
  return free_.size() == streams_.size() && (this->no_more_ || goaway_) && !this->waiting_;
}

// Nothing left to ask: hold the connection (--hold, unless the server is going away or it
// served nothing), else say GOAWAY and close once that is written.
template <class Stream>
void h2_connection<Stream>::settle() {
  if (!idle_and_finished() || closing_ || this->held_) return;
  if (!goaway_ && this->may_hold()) return this->mark_held();
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
  socket_of(this->stream_).shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  linger_timer_.expires_after(linger_after_goaway);
  linger_timer_.async_wait([self = this->self()](error_code ec) {
    if (!ec) self->finish();
  });
}

template <class Stream>
void h2_connection<Stream>::release() {
  if (!this->held_ || closing_ || this->done_) return;
  closing_ = true;
  nghttp2_session_terminate_session(session_.get(), NGHTTP2_NO_ERROR);
  do_write();
}

template class h2_connection<tcp_stream_type>;
template class h2_connection<tls_stream_type>;

}  // namespace memgate::loadgen
