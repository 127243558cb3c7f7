#include "http2/session.hpp"

#include "app/http_date.hpp"
#include "http2/callbacks.hpp"
#include "http2/nghttp2_memory.hpp"
#include "http2/settings.hpp"
#include "metrics/allocation_charge.hpp"
#include "metrics/counters.hpp"

#include <boost/asio/post.hpp>

#include <array>
#include <limits>

namespace memgate::http2 {
namespace {

constexpr std::size_t frame_header_bytes = 9;
// One write carries at most this much; a send_data past it waits for the next write.
constexpr std::size_t max_batch_bytes = 256 * 1024;
constexpr std::size_t max_batch_segments = 512;
constexpr std::size_t max_request_line_bytes = 8 * 1024;

nghttp2_nv header(std::string_view name, std::string_view value) {
  return {const_cast<std::uint8_t*>(reinterpret_cast<const std::uint8_t*>(name.data())),
          const_cast<std::uint8_t*>(reinterpret_cast<const std::uint8_t*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NONE};
}

}  // namespace

// Frame headers are staged (nghttp2 reuses their storage); body bytes are viewed where
// they are, in the pattern, an owned text, a fresh copy or a chunk made ahead.
class session::frame_output final : public strategy::output_stream {
 public:
  frame_output(session& owner, const stream_state& stream) : session_(owner), stream_(stream) {}

  void framing(strategy::bytes_view bytes) override { session_.batch_.stage(bytes); }
  void view(strategy::bytes_view bytes, std::shared_ptr<const void> owner) override {
    session_.batch_.view(bytes, std::move(owner));
  }
  // Room for this frame and for every frame the peer's windows let out of this stream in
  // the same batch, each with its frame header.
  std::size_t copy_capacity(const strategy::body_piece& piece) override {
    nghttp2_session* h2 = session_.session_;
    const auto window = static_cast<std::uint64_t>(std::max<std::int32_t>(
        0, std::min(nghttp2_session_get_stream_remote_window_size(h2, stream_.id), nghttp2_session_get_remote_window_size(h2))));
    const std::uint64_t batch_body = piece.length + std::min<std::uint64_t>(window, session_.available(stream_));
    const std::uint64_t max_frame = nghttp2_session_get_remote_settings(h2, NGHTTP2_SETTINGS_MAX_FRAME_SIZE);
    const std::uint64_t frames = batch_body / max_frame + 2;
    return static_cast<std::size_t>(batch_body + frames * frame_header_bytes);
  }

 private:
  session& session_;
  const stream_state& stream_;
};

// DATA frames carry the body bytes as they are: a chunk needs no framing of its own.
class session::stream_chunks final : public strategy::chunk_target {
 public:
  stream_chunks(session& owner, stream_state& stream) : session_(owner), stream_(stream) {}

  strategy::body_piece frame_chunk(std::uint64_t offset, std::size_t length) override {
    return {.body = stream_.body, .offset = offset, .length = length};
  }
  void on_chunks_available() override { session_.resume(stream_); }
  // Posted: the producer may be called from inside nghttp2's send callback, which must not
  // re-enter the session.
  void schedule_production() override {
    boost::asio::post(session_.executor_, [weak = session_.weak_from_this(), id = stream_.id] {
      if (auto self = weak.lock()) self->produce_more(id);
    });
  }

 private:
  session& session_;
  stream_state& stream_;
};

session::session(app::services& app, const strategy::strategies& strategies, boost::asio::any_io_executor executor,
                 std::function<void()> wake)
    : app_(app), strategies_(strategies), executor_(std::move(executor)), wake_(std::move(wake)) {
  const auto& limits = app_.config.limits;
  nghttp2_option* option = nullptr;
  nghttp2_option_new(&option);
  nghttp2_option_set_max_send_header_block_length(option, 64 * 1024);
  nghttp2_option_set_max_outbound_ack(option, limits.h2_max_outbound_acks);
  nghttp2_option_set_max_settings(option, limits.h2_max_settings_entries);
  nghttp2_option_set_max_continuations(option, limits.h2_max_continuations);
  nghttp2_option_set_stream_reset_rate_limit(option, limits.h2_reset_burst, limits.h2_resets_per_second);
  nghttp2_session_server_new3(&session_, server_callbacks(), this, option, nghttp2_memory());
  nghttp2_option_del(option);
  const auto settings = server_settings(limits);
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                        static_cast<std::int32_t>(limits.h2_connection_window_bytes));
}

session::~session() { nghttp2_session_del(session_); }

receive_result session::receive(std::span<const std::uint8_t> bytes) {
  // nghttp2 gets the bytes frame by frame: each frame is judged against the state the frames
  // before it left (session_defences.cpp).
  while (!bytes.empty()) {
    const inbound_step step = inbound_.take(bytes);
    if (step.frame) judge_inbound_frame(*step.frame);
    const ssize_t consumed = nghttp2_session_mem_recv(session_, step.bytes.data(), step.bytes.size());
    if (consumed >= 0) continue;
    if (peer_ignores_owed_frames(consumed == NGHTTP2_ERR_FLOODED)) return receive_result::close_now;
    // Bad preface, flood, or a callback failure: say why in a GOAWAY, then close.
    nghttp2_session_terminate_session(session_, consumed == NGHTTP2_ERR_FLOODED ? NGHTTP2_ENHANCE_YOUR_CALM
                                                                                  : NGHTTP2_PROTOCOL_ERROR);
    return receive_result::flush_then_close;
  }
  if (peer_ignores_owed_frames(false)) return receive_result::close_now;
  return receive_result::keep_reading;
}

output_batch& session::collect_output() {
  if (write_in_flight_) return batch_;
  while (batch_.size() < max_batch_bytes && batch_.segment_count() < max_batch_segments) {
    const std::uint8_t* data = nullptr;
    const ssize_t length = nghttp2_session_mem_send(session_, &data);
    if (length <= 0) break;
    if (!settings_advertised_) {  // each call returns one frame; the first SETTINGS is ours
      std::vector<std::uint8_t> frame(data, data + length);
      settings_advertised_ = rewrite_max_concurrent_streams(frame, app_.config.limits.max_concurrent_streams);
      batch_.stage(frame);
      continue;
    }
    batch_.stage({data, static_cast<std::size_t>(length)});
  }
  write_in_flight_ = !batch_.empty();
  return batch_;
}

void session::on_batch_written() {
  batch_.clear();
  write_in_flight_ = false;
  // Everything emitted so far is on the wire: streams waiting for that may get their next chunk.
  for (auto& stream : streams_) {
    if (!stream->streaming || !stream->deferred || stream->emitted != stream->chunks->produced()) continue;
    stream_chunks target(*this, *stream);
    strategies_.chunks().on_drained(*stream->chunks, target);
  }
}

bool session::finished() const {
  return nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0;
}

void session::end_idle_connection() { nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR); }

bool session::blocked_by_peer_window() const {
  const bool connection_window_closed = nghttp2_session_get_remote_window_size(session_) <= 0;
  for (const auto& stream : streams_) {
    if (stream->response_complete || available(*stream) == 0) continue;
    if (connection_window_closed || nghttp2_session_get_stream_remote_window_size(session_, stream->id) <= 0) {
      return true;
    }
  }
  return false;
}

stream_state* session::find(std::int32_t stream_id) {
  // A connection has at most max_concurrent_streams open: a scan is cheaper than hashing.
  for (const auto& stream : streams_) {
    if (stream->id == stream_id) return stream.get();
  }
  return nullptr;
}

// ---- requests --------------------------------------------------------------

int session::on_begin_headers(std::int32_t stream_id) {
  if (streams_.size() >= app_.config.limits.max_concurrent_streams) {
    // Past the advertised limit (nghttp2 enforces a higher one, settings.hpp): refuse this
    // stream alone, retryable (RFC 9113 5.1.2). The callback failure makes nghttp2 skip
    // the rest of the block; its own INTERNAL_ERROR reset is dropped, ours being queued.
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_REFUSED_STREAM);
    note_useless_frame();
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  streams_.push_back(pool::make<stream_state>());
  streams_.back()->id = stream_id;
  return 0;
}

int session::on_header(std::int32_t stream_id, std::string_view name, std::string_view value) {
  stream_state* stream = find(stream_id);
  if (stream == nullptr) return 0;
  if (value.size() > max_request_line_bytes) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // resets the stream
  // SETTINGS_MAX_HEADER_LIST_SIZE is advisory to the peer: enforce it while decoding
  // (RFC 9113 sizes a field as name + value + 32), keeping nothing past the limit.
  stream->header_list_bytes += name.size() + value.size() + 32;
  ++stream->header_fields;
  if (stream->header_list_bytes > app_.config.limits.max_header_list_bytes ||
      stream->header_fields > app_.config.limits.max_header_fields) {
    // Reset the stream now: nghttp2 then skips the callbacks and header validation
    // for the rest of the block, which is where an HPACK bomb spends our CPU.
    // A peer that keeps sending oversized lists is cut off.
    if (++oversized_header_lists_ > app_.config.limits.h2_max_oversized_header_lists) {
      nghttp2_session_terminate_session(session_, NGHTTP2_ENHANCE_YOUR_CALM);
    }
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  if (name == ":method") stream->method = value;
  if (name == ":path") stream->path = value;
  return 0;
}

int session::on_frame_recv(const nghttp2_frame& frame) {
  if (frame.hd.type == NGHTTP2_RST_STREAM) {
    if (stream_state* reset = find(frame.hd.stream_id)) on_reset_by_peer(*reset);
  }
  stream_state* stream = find(frame.hd.stream_id);
  if (stream == nullptr) return 0;
  const bool end_stream = (frame.hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (end_stream) stream->client_ended = true;
  if (frame.hd.type == NGHTTP2_HEADERS && frame.headers.cat == NGHTTP2_HCAT_REQUEST) {
    // HEAD is GET without the body (RFC 9110 9.3.2): same route, same headers.
    stream->head = stream->method == "HEAD";
    auto classified = app::classify(stream->head ? "GET" : stream->method, stream->path, app_.config.limits);
    if (auto* error = std::get_if<app::route_error>(&classified)) {
      // Answered at END_STREAM like any request (RFC 9113 8.1): until then nghttp2 may still
      // find the request malformed (content-length, padding, flow control) and reset it.
      stream->route_refused = std::move(*error);
    } else {
      stream->route = std::get<app::route>(classified);
      stream->measured = stream->route.counts_as_request();
      faults_.on_request_started(stream->route);
      stream->upload.emplace(strategies_.upload_sink_for(stream->route));
    }
  }
  if (end_stream && !stream->rejected) on_request_complete(*stream);  // HEADERS, last DATA, or trailers
  return 0;
}

int session::on_data_chunk(std::int32_t stream_id, std::span<const std::uint8_t> data) {
  stream_state* stream = find(stream_id);
  if (stream == nullptr || stream->rejected || !stream->upload) return 0;
  if (!stream->upload->accept(data)) {
    stream->rejected = true;
    stream->measured = false;
    submit(*stream, app::error_response({413, "request body exceeds the buffered limit of " +
                                                  std::to_string(app_.config.limits.max_buffered_body_bytes) +
                                                  " bytes"}));
  }
  return 0;
}

void session::on_request_complete(stream_state& stream) {
  if (stream.route_refused) return submit(stream, app::error_response(*stream.route_refused));
  switch (stream.route.kind) {
    case app::endpoint::upload:
      return submit(stream, app::json_response(stream.upload->finish_json()));
    case app::endpoint::stream:
      return start_stream(stream);
    case app::endpoint::mem:
      return app_.sampler.sample(stream.route.trim, executor_,
                                 [weak = weak_from_this(), id = stream.id](std::string json) {
                                   auto self = weak.lock();
                                   if (!self) return;
                                   if (stream_state* waiting = self->find(id)) {
                                     self->submit(*waiting, app::json_response(std::move(json)));
                                     self->wake_();
                                   }
                                 });
    default:
      return submit(stream, app::immediate_response(stream.route, app_));
  }
}

// ---- responses -------------------------------------------------------------

void session::submit(stream_state& stream, app::response response) {
  stream.responding = true;
  const std::string status = std::to_string(response.status);
  const std::string length = std::to_string(response.body.size());
  stream.body = std::move(response.body);
  // nghttp2 copies the fields, so the date text need only last this call (RFC 9110 6.6.1).
  std::array<nghttp2_nv, 5> headers{header(":status", status), header("content-type", response.content_type),
                                    header("server", "memgate-refserver"), header("date", app::http_date_now()),
                                    header("content-length", length)};
  const std::size_t count = stream.streaming ? 4 : 5;  // a stream's length is not known up front
  const nghttp2_data_provider provider = body_provider();
  nghttp2_submit_response(session_, stream.id, headers.data(), count, stream.head ? nullptr : &provider);
}

void session::start_stream(stream_state& stream) {
  stream.streaming = true;
  stream.chunks.emplace();
  const std::uint64_t length = stream.route.infinite ? std::numeric_limits<std::uint64_t>::max() : stream.route.length;
  submit(stream, {200, "application/octet-stream", app::response_body::pattern(length)});
  if (stream.head) return;  // no body: nothing to produce
  stream.chunks->reset(length, stream.route.chunk_bytes);
  stream_chunks target(*this, stream);
  strategies_.chunks().start(*stream.chunks, target);
}

void session::produce_more(std::int32_t stream_id) {
  const metrics::allocations_of charge(metrics::protocol::h2);
  stream_state* stream = find(stream_id);
  if (stream == nullptr) return;
  stream_chunks target(*this, *stream);
  strategies_.chunks().produce(*stream->chunks, target);
  wake_();
}

std::size_t session::available(const stream_state& stream) const {
  const std::uint64_t limit = stream.streaming ? stream.chunks->produced() : stream.body.size();
  return static_cast<std::size_t>(std::min<std::uint64_t>(limit - stream.emitted, std::numeric_limits<std::size_t>::max()));
}

bool session::body_finished(const stream_state& stream) const { return stream.emitted >= stream.body.size(); }

void session::resume(stream_state& stream) {
  if (!stream.deferred) return;
  stream.deferred = false;
  nghttp2_session_resume_data(session_, stream.id);
}

ssize_t session::read_body(std::int32_t stream_id, std::size_t max_length, std::uint32_t* flags) {
  stream_state* stream = find(stream_id);
  if (stream == nullptr) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  std::size_t length = std::min(max_length, available(*stream));
  if (stream->chunks && stream->chunks->has_queued()) {  // a frame never spans two queued chunks
    length = std::min(length, stream->chunks->queued_front().size());
  }
  if (length == 0) {
    if (body_finished(*stream)) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      return 0;
    }
    stream->deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  stream->frame_offset = stream->emitted;
  stream->emitted += length;
  if (body_finished(*stream)) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(length);
}

int session::send_body(const nghttp2_frame& frame, const std::uint8_t* frame_header, std::size_t length) {
  stream_state* stream = find(frame.hd.stream_id);
  if (stream == nullptr) return NGHTTP2_ERR_CALLBACK_FAILURE;
  if (batch_.size() >= max_batch_bytes || batch_.segment_count() >= max_batch_segments) return NGHTTP2_ERR_WOULDBLOCK;

  const strategy::bytes_view header(frame_header, frame_header_bytes);
  frame_output out(*this, *stream);
  if (stream->chunks && stream->chunks->has_queued()) {  // a chunk made ahead goes out as it is
    out.framing(header);
    out.view(stream->chunks->queued_front().first(length), stream->chunks->queued_front_owner());
    if (stream->chunks->take_queued(length)) {
      stream_chunks target(*this, *stream);
      strategies_.chunks().on_chunk_taken(*stream->chunks, target);
    }
    return 0;
  }
  strategies_.body_writer_for(stream->measured)
      .write({.before = {header, {}}, .body = stream->body, .offset = stream->frame_offset, .length = length}, out,
             stream->copy);
  return 0;
}

int session::on_frame_sent(const nghttp2_frame& frame) {
  if ((frame.hd.type != NGHTTP2_DATA && frame.hd.type != NGHTTP2_HEADERS) ||
      (frame.hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) {
    return 0;
  }
  stream_state* stream = find(frame.hd.stream_id);
  if (stream == nullptr || stream->response_complete) return 0;
  stream->response_complete = true;
  stream->copy.reset();
  if (stream->measured) metrics::add(metrics::counter::h2_requests);
  // Answered before the request body ended: tell the client to stop sending it.
  if (stream->rejected) nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream->id, NGHTTP2_NO_ERROR);
  return 0;
}

int session::on_stream_close(std::int32_t stream_id, std::uint32_t error_code) {
  if (stream_state* stream = find(stream_id)) {
    if (stream->response_complete) ++served_streams_;
    remember_closed(*stream, error_code);
  }
  std::erase_if(streams_, [stream_id](const auto& stream) { return stream->id == stream_id; });
  return 0;
}

}  // namespace memgate::http2
