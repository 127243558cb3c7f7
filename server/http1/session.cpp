#include "http1/session.hpp"

#include "http1/request_checks.hpp"
#include "metrics/counters.hpp"
#include "transport/counted_write.hpp"
#include "transport/streams.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>

#include <cstdio>
#include <limits>
#include <utility>

namespace memgate::http1 {
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

namespace {

constexpr std::size_t body_read_buffer_bytes = 64 * 1024;
constexpr std::uint32_t linger_ms = 1000;
constexpr std::string_view crlf = "\r\n";
constexpr std::string_view last_chunk = "0\r\n\r\n";

}  // namespace

template <typename Stream>
session<Stream>::session(Stream&& stream, beast::flat_buffer&& already_read, transport::connection_slot&& slot,
                         app::services& app, const strategy::strategies& strategies)
    : stream_(std::move(stream)),
      buffer_(std::move(already_read)),
      slot_(std::move(slot)),
      app_(app),
      strategies_(strategies) {}

// The last handler let go of the session: the connection is closed.
template <typename Stream>
session<Stream>::~session() {
  app::on_connection_closed(app_);
}

template <typename Stream>
void session<Stream>::run() {
  do_read_header();
}

// ---- reading ---------------------------------------------------------------

template <typename Stream>
void session<Stream>::do_read_header() {
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(app_.config.limits.max_header_bytes));
  parser_->body_limit(boost::none);  // the upload sink enforces the buffered limit
  // An idle keep-alive connection and a slow header share one clock: whichever is shorter.
  const auto& limits = app_.config.limits;
  transport::expire_after_ms(stream_, buffer_.size() > 0 ? limits.header_read_timeout_ms
                                                          : std::min(limits.idle_timeout_ms, limits.header_read_timeout_ms));
  http::async_read_header(stream_, buffer_, *parser_,
                          beast::bind_front_handler(&session::on_read_header, this->shared_from_this()));
}

template <typename Stream>
void session<Stream>::on_read_header(error_code ec, std::size_t) {
  const metrics::allocations_of charge(metrics::protocol::h1);
  if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::eof ||
      ec == net::error::connection_reset || ec == net::error::operation_aborted) {
    return do_close();
  }
  if (ec == http::error::header_limit) return reject(431, "request header section exceeds the limit");
  if (ec) return reject(400, "malformed request: " + ec.message());

  const auto& request = parser_->get();
  if (auto rejection = check_request_header(request.base(), app_.config.limits.max_header_fields)) {
    return reject(rejection->status, std::move(rejection->reason));
  }
  keep_alive_ = request.keep_alive() && !app_.draining.load(std::memory_order_relaxed) &&
                ++requests_on_connection_ < app_.config.limits.max_requests_per_connection;
  auto classified = app::classify(std::string_view(request.method_string()), std::string_view(request.target()),
                                  app_.config.limits);
  if (auto* error = std::get_if<app::route_error>(&classified)) {
    // The body (if any) would have to be read to keep the connection usable: close instead.
    if (!parser_->is_done()) close_after_response_ = true;
    return respond(app::error_response(*error));
  }
  route_ = std::get<app::route>(classified);
  app::on_request_started(route_, app_);
  if (parser_->is_done()) return on_request_complete();
  body_sink_.emplace(strategies_.upload_sink_for(route_));
  body_scratch_.resize(body_read_buffer_bytes);
  // Beast reads at most the buffer's free capacity per call (512 bytes for a
  // fresh buffer): without this, a body arrives in 513-byte recvmsg calls.
  buffer_.reserve(body_read_buffer_bytes);
  do_read_body();
}

template <typename Stream>
void session<Stream>::do_read_body() {
  auto& body = parser_->get().body();
  body.data = body_scratch_.data();
  body.size = body_scratch_.size();
  transport::expire_after_ms(stream_, app_.config.limits.idle_timeout_ms);
  http::async_read_some(stream_, buffer_, *parser_,
                        beast::bind_front_handler(&session::on_read_body, this->shared_from_this()));
}

template <typename Stream>
void session<Stream>::on_read_body(error_code ec, std::size_t) {
  const metrics::allocations_of charge(metrics::protocol::h1);
  if (ec == http::error::need_buffer) ec = {};  // the scratch buffer is full: a normal step
  if (ec == beast::error::timeout || ec == net::error::eof || ec == http::error::partial_message ||
      ec == net::error::connection_reset) {
    return do_close();
  }
  if (ec) return reject(400, "malformed request body: " + ec.message());
  const std::size_t received = body_scratch_.size() - parser_->get().body().size;
  if (!body_sink_->accept({body_scratch_.data(), received})) {
    return reject(413, "request body exceeds the buffered limit of " +
                           std::to_string(app_.config.limits.max_buffered_body_bytes) + " bytes");
  }
  if (!parser_->is_done()) return do_read_body();
  on_request_complete();
}

template <typename Stream>
void session<Stream>::on_request_complete() {
  std::vector<std::uint8_t>().swap(body_scratch_);
  buffer_.shrink_to_fit();  // an idle keep-alive connection holds no body-sized buffer
  switch (route_.kind) {
    case app::endpoint::upload:
      return respond(app::json_response(body_sink_->finish_json()));
    case app::endpoint::stream:
      return start_stream();
    case app::endpoint::mem:
      return app_.sampler.sample(route_.trim, stream_.get_executor(),
                                 [self = this->shared_from_this()](std::string json) {
                                   self->respond(app::json_response(std::move(json)));
                                 });
    default:
      return respond(app::immediate_response(route_, app_));
  }
}

// ---- whole responses -------------------------------------------------------

template <typename Stream>
void session<Stream>::serialize_header(unsigned status, std::string_view content_type,
                                       std::optional<std::uint64_t> content_length) {
  http::response<http::empty_body> message{static_cast<http::status>(status), parser_->get().version()};
  message.set(http::field::server, "memgate-refserver");
  message.set(http::field::content_type, content_type);
  message.keep_alive(keep_alive_ && !close_after_response_);
  if (content_length) {
    message.content_length(*content_length);
  } else {
    message.chunked(true);
  }
  http::response_serializer<http::empty_body> serializer(message);
  serializer.split(true);
  header_.clear();
  error_code ec;
  while (!serializer.is_header_done()) {
    serializer.next(ec, [&](error_code&, const auto& buffers) {
      const std::size_t size = net::buffer_size(buffers);
      const std::size_t old = header_.size();
      header_.resize(old + size);
      net::buffer_copy(net::buffer(header_.data() + old, size), buffers);
      serializer.consume(size);
    });
  }
}

template <typename Stream>
void session<Stream>::respond(app::response response) {
  body_ = std::move(response.body);
  serialize_header(response.status, response.content_type, body_.size());
  body_writer().write({.before = {strategy::as_bytes(header_), {}}, .body = body_, .offset = 0, .length = body_.size()},
                      output_, copy_);
  do_write(&session::on_write_response_end);
}

template <typename Stream>
template <typename Handler>
void session<Stream>::do_write(Handler handler) {
  writing_ = true;
  transport::async_write_counted(stream_, output_.buffers(), send_timeout_ms(),
                                 beast::bind_front_handler(handler, this->shared_from_this()));
}

// Releases what the write viewed. Callers clear writing_ only after a success: once a
// write failed, nothing else goes out on the connection.
template <typename Stream>
void session<Stream>::on_write_done() {
  output_.clear();
  copy_.reset();
}

// A whole response, or a stream's last chunk, is out.
template <typename Stream>
void session<Stream>::on_write_response_end(error_code ec, std::size_t) {
  const metrics::allocations_of charge(metrics::protocol::h1);
  on_write_done();
  if (ec) return on_write_failed(ec);
  writing_ = false;
  on_response_done();
}

// ---- /stream: chunked; the chunk producer says when each chunk exists ----

template <typename Stream>
void session<Stream>::start_stream() {
  const std::uint64_t length = route_.infinite ? std::numeric_limits<std::uint64_t>::max() : route_.length;
  body_ = app::response_body::pattern(length);
  serialize_header(200, "application/octet-stream", std::nullopt);
  stream_offset_ = 0;
  chunks_.reset(length, route_.chunk_bytes);
  strategies_.chunks().start(chunks_, *this);
}

template <typename Stream>
strategy::bytes_view session<Stream>::header_if_first(std::uint64_t offset) const {
  return offset == 0 ? strategy::as_bytes(header_) : strategy::bytes_view{};
}

template <typename Stream>
strategy::body_piece session<Stream>::frame_chunk(std::uint64_t offset, std::size_t length) {
  char line[24];
  const int size = std::snprintf(line, sizeof line, "%zx\r\n", length);
  chunk_line_.assign(line, static_cast<std::size_t>(size));
  return {.before = {header_if_first(offset), strategy::as_bytes(chunk_line_)},
          .body = body_,
          .offset = offset,
          .length = length,
          .after = strategy::as_bytes(crlf)};
}

template <typename Stream>
void session<Stream>::on_chunks_available() {
  if (!writing_) do_write_stream();
}

template <typename Stream>
void session<Stream>::schedule_production() {
  net::post(stream_.get_executor(), [self = this->shared_from_this()] {
    const metrics::allocations_of charge(metrics::protocol::h1);
    self->strategies_.chunks().produce(self->chunks_, *self);
  });
}

// The next thing the output can take: a chunk made ahead as it is, the chunk the producer
// made available, or, once every byte is out, the last chunk.
template <typename Stream>
void session<Stream>::do_write_stream() {
  if (chunks_.has_queued()) {
    const auto chunk = chunks_.queued_front();
    output_.view(chunk, chunks_.queued_front_owner());
    queued_in_flight_ = chunk.size();
    return do_write(&session::on_write_stream);
  }
  if (stream_offset_ < chunks_.produced()) {
    const auto length = static_cast<std::size_t>(chunks_.produced() - stream_offset_);
    body_writer().write(frame_chunk(stream_offset_, length), output_, copy_);
    stream_offset_ += length;
    return do_write(&session::on_write_stream);
  }
  if (!chunks_.all_produced()) return;  // the producer calls on_chunks_available
  output_.framing(header_if_first(stream_offset_));
  output_.framing(strategy::as_bytes(last_chunk));
  do_write(&session::on_write_response_end);
}

template <typename Stream>
void session<Stream>::on_write_stream(error_code ec, std::size_t) {
  const metrics::allocations_of charge(metrics::protocol::h1);
  on_write_done();
  if (ec) {
    chunks_.stop();
    return on_write_failed(ec);
  }
  writing_ = false;
  if (queued_in_flight_ > 0) {
    const auto taken = chunks_.take_queued(std::exchange(queued_in_flight_, 0));
    if (taken) {
      stream_offset_ += *taken;
      strategies_.chunks().on_chunk_taken(chunks_, *this);
    }
  } else if (stream_offset_ == chunks_.produced()) {
    strategies_.chunks().on_drained(chunks_, *this);
  }
  if (!writing_) do_write_stream();
}

// ---- end of a response -----------------------------------------------------

template <typename Stream>
void session<Stream>::on_response_done() {
  if (route_.counts_as_request()) metrics::add(metrics::counter::h1_requests);
  body_ = {};
  body_sink_.reset();
  route_ = {};
  if (!keep_alive_ || close_after_response_ || app_.draining.load(std::memory_order_relaxed)) return do_close();
  do_read_header();
}

// A response write failed: the client closed mid-response, or stopped reading past
// the send timeout (that one is our cut-off, not the client abandoning the response).
template <typename Stream>
void session<Stream>::on_write_failed(error_code ec) {
  if (ec != beast::error::timeout) app::on_response_abandoned(app_);
  transport::close_now(stream_);
}

template <typename Stream>
void session<Stream>::reject(unsigned status, std::string reason) {
  keep_alive_ = false;
  close_after_response_ = true;
  route_ = {};  // not a measured request
  if (!parser_ || !parser_->is_header_done()) parser_.emplace();  // a fresh header: HTTP/1.1 for the reply
  respond(app::error_response({status, std::move(reason)}));
}

template <typename Stream>
void session<Stream>::do_close() {
  if constexpr (transport::is_tls<Stream>) {
    transport::expire_after_ms(stream_, 1000);
    stream_.async_shutdown([self = this->shared_from_this()](error_code) { transport::close_now(self->stream_); });
  } else {
    error_code ignored;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    transport::expire_after_ms(stream_, linger_ms);  // once: a client that keeps sending does not extend it
    linger();
  }
}

// After our FIN, unread request bytes would make the kernel answer with a reset
// that can destroy the response we just sent (a 413 to an upload, say): read and
// drop what the client still sends, for a bounded time.
template <typename Stream>
void session<Stream>::linger() {
  body_scratch_.resize(4096);
  stream_.async_read_some(net::buffer(body_scratch_), [self = this->shared_from_this()](error_code ec, std::size_t) {
    if (!ec) self->linger();
  });
}

template class session<transport::plain_stream>;
template class session<transport::tls_stream>;

}  // namespace memgate::http1
