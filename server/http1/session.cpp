// Over 400 lines: the request path, whole responses and /stream share the session's state,
// and a split would have each part reach into the others' members.
#include "http1/session.hpp"

#include "http1/request_checks.hpp"
#include "metrics/allocation_charge.hpp"
#include "metrics/counters.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/core/read_size.hpp>

#include <cstdio>
#include <limits>
#include <stdexcept>
#include <utility>

namespace memgate::http1 {
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using error_code = beast::error_code;

namespace {

constexpr std::size_t body_read_buffer_bytes = 64 * 1024;
// Beast's own reads ask for up to this much per read (at least 512 bytes, at most the free capacity).
constexpr std::size_t max_read_bytes = 64 * 1024;
constexpr std::string_view crlf = "\r\n";
constexpr std::string_view last_chunk = "0\r\n\r\n";
// RFC 9110 10.1.1: sent at once to a client that waits for it before sending the body.
constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace

session::session(app::services& app, const strategy::strategies& strategies, net::any_io_executor executor,
                 session_owner& owner, beast::flat_buffer&& already_read)
    : app_(app), strategies_(strategies), executor_(std::move(executor)), owner_(owner), input_(std::move(already_read)) {}

void session::start() {
  start_request();
  parse();
}

// ---- input -----------------------------------------------------------------

bool session::wants_input() const {
  return (phase_ == phase::header || phase_ == phase::body) && !parse_posted_;
}

std::optional<std::uint32_t> session::take_read_deadline_ms() {
  const auto& limits = app_.config.limits;
  if (phase_ == phase::body) return limits.idle_timeout_ms;
  if (!std::exchange(header_deadline_due_, false)) return std::nullopt;
  // An idle keep-alive connection and a slow header share one clock: whichever is shorter.
  return input_.size() > 0 ? limits.header_read_timeout_ms
                           : std::min(limits.idle_timeout_ms, limits.header_read_timeout_ms);
}

// A body read takes up to the scratch buffer's worth: a buffer's free capacity alone
// (512 bytes for a fresh one) would make a body arrive in 513-byte recvmsg calls.
net::mutable_buffer session::input_space() {
  return input_.prepare(phase_ == phase::body ? body_read_buffer_bytes : beast::read_size(input_, max_read_bytes));
}

void session::on_input(std::size_t bytes) {
  input_.commit(bytes);
  parse();
}

void session::on_input(std::span<const std::uint8_t> bytes) {
  lent_ = {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  parse();
  const auto left = std::exchange(lent_, {});
  if (phase_ == phase::over || left.empty()) return;
  input_.commit(net::buffer_copy(input_.prepare(left.size()), net::buffer(left)));
}

// As Beast's reads do: the end of input before any byte of a request is a clean close, inside
// a header a malformed request, inside a body a client that gave up.
void session::on_input_end() {
  if (phase_ == phase::header && parser_->got_some()) {
    return reject(400, "malformed request: " + error_code(http::error::partial_message).message());
  }
  if (wants_input()) {
    phase_ = phase::over;
    end_ = session_end::graceful;
  }
}

void session::start_request() {
  phase_ = phase::header;
  header_deadline_due_ = true;
  head_ = false;
  folded_ = false;
  new_parser();
}

void session::new_parser() {
  release_parser();
  parser_.emplace(std::piecewise_construct, std::make_tuple(), std::make_tuple(field_allocator<char>(fields_)));
  parser_->header_limit(static_cast<std::uint32_t>(app_.config.limits.max_header_bytes));
  parser_->body_limit(boost::none);  // the upload sink enforces the buffered limit
}

void session::release_parser() {
  parser_.reset();
  fields_.release();
}

void session::parse() {
  if (phase_ == phase::header) parse_header();
  if (phase_ == phase::body) parse_body();
}

// RFC 9112 2.2: empty lines before a request line are ignored. Until its request line is
// complete the parser has taken no input, but it keeps where it stopped scanning: it starts
// afresh once input went from under it. False: a CR that may begin an empty line waits for
// the next byte (the parser would call it a bad method).
bool session::skip_empty_lines() {
  if (!parser_->get().target().empty()) return true;
  bool skipped = false;
  while (buffered().starts_with(crlf)) {
    consume(crlf.size());
    skipped = true;
  }
  if (skipped) new_parser();
  return buffered() != crlf.substr(0, 1);
}

std::string_view session::buffered() const {
  if (!lent_.empty()) return lent_;
  return {static_cast<const char*>(input_.data().data()), input_.size()};
}

// The parser takes the request line, then each field line whole (a folded one with the
// lines that continue it), as each is complete.
void session::parse_header() {
  if (!skip_empty_lines()) return;
  error_code ec;
  std::size_t used = 0;
  try {
    used = parser_->put(net::buffer(buffered()), ec);
  } catch (const std::length_error&) {
    // Beast 1.81 stores a field's name and value with 16-bit lengths and throws past them,
    // which a --max-header-bytes above 64 KiB lets a client reach.
    return reject(431, "a request header field exceeds 64 KiB");
  }
  folded_ = folded_ || has_obs_fold(buffered().substr(0, used));
  consume(used);
  if (ec == http::error::need_more) return;
  if (ec == http::error::header_limit) {
    // RFC 9112 3: a request-target longer than the server parses is 414, not 431.
    if (parser_->get().target().empty()) return reject(414, "request line exceeds the header limit");
    return reject(431, "request header section exceeds the limit");
  }
  if (ec) return reject(400, "malformed request: " + ec.message());
  on_header();
}

void session::on_header() {
  const auto& request = parser_->get();
  // HEAD is answered wherever GET is (RFC 9110 9.3.2).
  head_ = request.method() == http::verb::head;
  version_ = request.version();
  // RFC 9112 5.2 lets a server replace obs-fold with spaces (as Beast does) or refuse it: a
  // folded line is how one field is made to read differently by two parsers, so refuse.
  if (folded_) return reject(400, "a folded header field line (obs-fold)");
  if (auto rejection = check_request_header(request.base(), app_.config.limits.max_header_fields)) {
    return reject(rejection->status, std::move(rejection->reason));
  }
  keep_alive_ = request.keep_alive() && !app_.draining.load(std::memory_order_relaxed) &&
                ++requests_on_connection_ < app_.config.limits.max_requests_per_connection;
  auto classified = app::classify(head_ ? std::string_view("GET") : std::string_view(request.method_string()),
                                  origin_form(std::string_view(request.target())), app_.config.limits);
  if (auto* error = std::get_if<app::route_error>(&classified)) {
    // The body (if any) would have to be read to keep the connection usable: close instead.
    if (!parser_->is_done()) close_after_response_ = true;
    return respond(app::error_response(*error));
  }
  route_ = std::get<app::route>(classified);
  faults_.on_request_started(route_);
  body_sink_.emplace(strategies_.upload_sink_for(route_));  // an upload without a body has one too
  if (parser_->is_done()) return on_request_complete();
  phase_ = phase::body;
  if (expects_continue(request.base())) {
    output_.framing(strategy::as_bytes(continue_line));
    pending_ = output_kind::interim;
  }
  body_scratch_.resize(body_read_buffer_bytes);
}

// Body bytes go from the input through the 64 KiB scratch buffer into the upload sink.
// Each put() takes one step (a chunk header, the scratch buffer's worth of body): repeat
// while it makes progress.
void session::parse_body() {
  for (;;) {
    auto& body = parser_->get().body();
    body.data = body_scratch_.data();
    body.size = body_scratch_.size();
    error_code ec;
    const std::size_t used = parser_->put(net::buffer(buffered()), ec);
    consume(used);
    if (ec == http::error::need_buffer || ec == http::error::need_more) ec = {};  // normal steps
    if (ec) return reject(400, "malformed request body: " + ec.message());
    const std::size_t received = body_scratch_.size() - body.size;
    if (!body_sink_->accept({body_scratch_.data(), received})) {
      return reject(413, "request body exceeds the buffered limit of " +
                             std::to_string(app_.config.limits.max_buffered_body_bytes) + " bytes");
    }
    if (parser_->is_done()) return on_request_complete();
    if (used == 0 || buffered().empty()) return;  // the parser waits for more input
  }
}

void session::on_request_complete() {
  phase_ = phase::responding;
  release_parser();  // what the request said is taken: version_, keep_alive_, route_
  std::vector<std::uint8_t>().swap(body_scratch_);
  // An idle keep-alive connection holds no input buffer: the next request is read into the
  // thread's, and only a part of one that must wait for the rest is kept here.
  if (input_.size() == 0) input_.shrink_to_fit();
  switch (route_.kind) {
    case app::endpoint::upload:
      return respond(app::json_response(body_sink_->finish_json()));
    case app::endpoint::stream:
      return start_stream();
    case app::endpoint::mem:
      return app_.sampler.sample(route_.trim, executor_, [self = owner_.hold()](std::string json) {
        self->respond(app::json_response(std::move(json)));
        self->owner_.wake();
      });
    default:
      return respond(app::immediate_response(route_, app_));
  }
}

// ---- whole responses -------------------------------------------------------

void session::build_header(unsigned status, std::string_view content_type, body_framing framing,
                           std::uint64_t content_length) {
  header_.build({.status = status,
                 .content_type = content_type,
                 .version = version_,
                 .keep_alive = keep_alive_ && !close_after_response_,
                 .framing = framing,
                 .content_length = content_length});
}

void session::respond(app::response response) {
  phase_ = phase::responding;
  body_ = std::move(response.body);
  build_header(response.status, response.content_type, body_framing::content_length, body_.size());
  pending_ = output_kind::response_end;
  if (head_) return output_.framing(strategy::as_bytes(header_.bytes()));
  body_writer().write({.before = {strategy::as_bytes(header_.bytes()), {}}, .body = body_, .offset = 0, .length = body_.size()},
                      output_, copy_);
}

// ---- output ----------------------------------------------------------------

std::span<const net::const_buffer> session::collect_output() {
  if (writing_) return {};
  if (pending_ == output_kind::none && streaming_) prepare_stream_output();
  if (pending_ == output_kind::none) return {};
  writing_ = true;
  return output_.buffers();
}

// Releases what the write viewed.
void session::on_output_written() {
  output_.clear();
  copy_.reset();
  writing_ = false;
  const auto written = std::exchange(pending_, output_kind::none);
  if (written == output_kind::interim) return;  // the body may come now
  if (written == output_kind::stream_part) return on_stream_written();
  streaming_ = false;
  on_response_done();
}

// Once a write failed, nothing else goes out on the connection.
void session::on_output_failed(bool stalled) {
  output_.clear();
  copy_.reset();
  pending_ = output_kind::none;
  if (streaming_) chunks_.stop();
  streaming_ = false;
  if (!stalled) app::on_response_abandoned(app_);
  phase_ = phase::over;
  end_ = session_end::abort;
}

// ---- /stream: chunked; the chunk producer says when each chunk exists ----

void session::start_stream() {
  const std::uint64_t length = route_.infinite ? std::numeric_limits<std::uint64_t>::max() : route_.length;
  body_ = app::response_body::pattern(length);
  // RFC 9112 6.1: no Transfer-Encoding in a response to HTTP/1.0; the close ends the body.
  close_delimited_ = version_ < 11;
  if (close_delimited_) keep_alive_ = false;
  build_header(200, "application/octet-stream", close_delimited_ ? body_framing::close_delimited : body_framing::chunked, 0);
  if (head_) {
    output_.framing(strategy::as_bytes(header_.bytes()));
    pending_ = output_kind::response_end;
    return;
  }
  stream_offset_ = 0;
  streaming_ = true;
  chunks_.reset(length, route_.chunk_bytes);
  strategies_.chunks().start(chunks_, *this);
}

strategy::bytes_view session::header_if_first(std::uint64_t offset) const {
  return offset == 0 ? strategy::as_bytes(header_.bytes()) : strategy::bytes_view{};
}

strategy::body_piece session::frame_chunk(std::uint64_t offset, std::size_t length) {
  if (close_delimited_) return {.before = {header_if_first(offset), {}}, .body = body_, .offset = offset, .length = length};
  char line[24];
  const int size = std::snprintf(line, sizeof line, "%zx\r\n", length);
  chunk_line_.assign(line, static_cast<std::size_t>(size));
  return {.before = {header_if_first(offset), strategy::as_bytes(chunk_line_)},
          .body = body_,
          .offset = offset,
          .length = length,
          .after = strategy::as_bytes(crlf)};
}

void session::on_chunks_available() {
  if (!writing_) owner_.wake();
}

void session::schedule_production() {
  net::post(executor_, [self = owner_.hold()] {
    const metrics::allocations_of charge(metrics::protocol::h1);
    self->strategies_.chunks().produce(self->chunks_, *self);
  });
}

// The next thing the output can take: a chunk made ahead as it is, the chunk the producer
// made available, or, once every byte is out, the last chunk.
void session::prepare_stream_output() {
  if (chunks_.has_queued()) {
    const auto chunk = chunks_.queued_front();
    output_.view(chunk, chunks_.queued_front_owner());
    queued_in_flight_ = chunk.size();
    pending_ = output_kind::stream_part;
    return;
  }
  if (stream_offset_ < chunks_.produced()) {
    const auto length = static_cast<std::size_t>(chunks_.produced() - stream_offset_);
    body_writer().write(frame_chunk(stream_offset_, length), output_, copy_);
    stream_offset_ += length;
    pending_ = output_kind::stream_part;
    return;
  }
  if (!chunks_.all_produced()) return;  // the producer calls on_chunks_available
  if (close_delimited_ && stream_offset_ > 0) {  // every byte is out: the close ends the body
    streaming_ = false;
    return on_response_done();
  }
  output_.framing(header_if_first(stream_offset_));
  if (!close_delimited_) output_.framing(strategy::as_bytes(last_chunk));
  pending_ = output_kind::response_end;
}

void session::on_stream_written() {
  if (queued_in_flight_ > 0) {
    const auto taken = chunks_.take_queued(std::exchange(queued_in_flight_, 0));
    if (taken) {
      stream_offset_ += *taken;
      strategies_.chunks().on_chunk_taken(chunks_, *this);
    }
  } else if (stream_offset_ == chunks_.produced()) {
    strategies_.chunks().on_drained(chunks_, *this);
  }
}

// ---- end of a response -----------------------------------------------------

void session::on_response_done() {
  if (route_.counts_as_request()) metrics::add(metrics::counter::h1_requests);
  body_ = {};
  body_sink_.reset();
  route_ = {};
  close_delimited_ = false;
  if (!keep_alive_ || close_after_response_ || app_.draining.load(std::memory_order_relaxed)) {
    phase_ = phase::over;
    end_ = session_end::graceful;
    return;
  }
  start_request();
  if (!holds_input()) return;  // the transport reads the next request
  // A pipelined request waits one turn of the event loop, as a read would: a client's
  // pipeline does not keep the thread from the other connections.
  parse_posted_ = true;
  net::post(executor_, [self = owner_.hold()] {
    const metrics::allocations_of charge(metrics::protocol::h1);
    self->parse_posted_ = false;
    self->parse();
    self->owner_.wake();
  });
}

void session::reject(unsigned status, std::string reason) {
  keep_alive_ = false;
  close_after_response_ = true;
  route_ = {};  // not a measured request
  if (!parser_ || !parser_->is_header_done()) version_ = 11;  // no request line to answer in: HTTP/1.1
  respond(app::error_response({status, std::move(reason)}));
}

}  // namespace memgate::http1
