#pragma once
// One HTTP/2 connection's protocol state, with no socket: bytes go in through
// receive(), frames come out through collect_output(). connection.hpp wires it to
// a transport. nghttp2's callbacks are registered in callbacks.cpp.
// Its defences against peers that make it work for nothing are in session_defences.cpp.
#include "app/services.hpp"
#include "http2/inbound_frames.hpp"
#include "http2/output_batch.hpp"
#include "metrics/counters.hpp"
#include "pool/free_lists.hpp"
#include "strategy/strategies.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <nghttp2/nghttp2.h>

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace memgate::http2 {

struct stream_state {
  std::int32_t id = 0;
  std::string method;
  std::string path;
  app::route route;
  bool measured = false;           // a routed, counted request
  bool rejected = false;           // answered early (413): the rest of its body is ignored
  bool responding = false;         // a response was submitted
  std::size_t header_list_bytes = 0;
  std::size_t header_fields = 0;
  bool response_complete = false;  // END_STREAM went out
  bool client_ended = false;       // END_STREAM came in: the request is complete
  bool reset_by_peer = false;
  bool head = false;               // HEAD: GET's headers, no body
  std::optional<app::route_error> route_refused;  // answered at END_STREAM
  std::optional<strategy::upload_sink> upload;

  app::response_body body = app::response_body::pattern(0);
  std::uint64_t emitted = 0;        // body bytes handed to send_data so far
  std::uint64_t frame_offset = 0;   // body offset of the frame being sent

  bool deferred = false;  // read_body had nothing to give: nghttp2 waits for resume
  bool streaming = false;  // /stream: `chunks` says how much of the body exists
  std::optional<strategy::chunked_body> chunks;  // made for /stream only: its queue allocates

  std::optional<strategy::fresh_buffer> copy;  // what a copying body writer wrote this batch's frames into

  metrics::counted_while_alive open_gauge{metrics::counter::h2_streams_open};
};

// How a stream the session no longer knows ended, for frames the client still sends on it
// (RFC 9113 5.1). Streams we reset are not remembered: frames on them are ignored.
enum class closed_by : std::uint8_t { unknown, client_end_stream, client_reset };

struct closed_stream {
  std::int32_t id = 0;
  closed_by how = closed_by::unknown;
};

enum class receive_result {
  keep_reading,
  flush_then_close,  // a connection error: write what is queued (the GOAWAY), then close
  close_now,         // the peer does not read what it makes us answer: nothing queued would reach it
};

class session : public std::enable_shared_from_this<session> {
 public:
  // `wake` asks the transport to collect output again (after asynchronous work).
  session(app::services& app, const strategy::strategies& strategies, boost::asio::any_io_executor executor,
          std::function<void()> wake);
  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  receive_result receive(std::span<const std::uint8_t> bytes);
  // The next bytes to write; empty when there is nothing to send now.
  output_batch& collect_output();
  // The last collected batch is on the wire: release it, let waiting streams go on.
  void on_batch_written();
  bool finished() const;  // neither side wants more
  // Body bytes are ready but the peer's window (stream or connection) is closed.
  bool blocked_by_peer_window() const;
  // The idle timeout: GOAWAY NO_ERROR with the last stream processed (RFC 9113 6.8), then finished().
  void end_idle_connection();
  bool has_open_streams() const { return !streams_.empty(); }

  // ---- nghttp2 callback targets (callbacks.cpp) ----
  int on_begin_frame(const nghttp2_frame_hd& header);
  int on_begin_headers(std::int32_t stream_id);
  int on_header(std::int32_t stream_id, std::string_view name, std::string_view value);
  int on_frame_recv(const nghttp2_frame& frame);
  int on_data_chunk(std::int32_t stream_id, std::span<const std::uint8_t> data);
  int on_frame_sent(const nghttp2_frame& frame);
  int on_stream_close(std::int32_t stream_id, std::uint32_t error_code);
  ssize_t read_body(std::int32_t stream_id, std::size_t max_length, std::uint32_t* flags);
  int send_body(const nghttp2_frame& frame, const std::uint8_t* frame_header, std::size_t length);

 private:
  stream_state* find(std::int32_t stream_id);
  bool peer_ignores_owed_frames(bool flooded) const;
  void on_reset_by_peer(stream_state& stream);
  void note_useless_frame();
  void remember_closed(const stream_state& stream, std::uint32_t error_code);
  closed_by how_closed(std::int32_t stream_id) const;
  void judge_inbound_frame(const inbound_frame& frame);
  void on_request_complete(stream_state& stream);
  void submit(stream_state& stream, app::response response);
  void start_stream(stream_state& stream);
  void produce_more(std::int32_t stream_id);
  std::size_t available(const stream_state& stream) const;
  bool body_finished(const stream_state& stream) const;
  void resume(stream_state& stream);

  class frame_output;   // the body writers' output: this batch
  class stream_chunks;  // the chunk producer's view of one stream

  app::services& app_;
  app::connection_faults faults_{app_.config};  // charged when the session, and so its connection, ends
  const strategy::strategies& strategies_;
  boost::asio::any_io_executor executor_;
  std::function<void()> wake_;
  nghttp2_session* session_ = nullptr;
  // Open streams, in no order. Their states, like nghttp2's blocks (nghttp2_memory.hpp), are
  // made in blocks of this thread's free lists: steady state allocates nothing per stream, and
  // a session with no stream open holds none of those blocks.
  std::vector<pool::object<stream_state>> streams_;
  inbound_frames inbound_;
  output_batch batch_;
  bool write_in_flight_ = false;
  bool settings_advertised_ = false;  // our SETTINGS went out (with the stream limit the peer sees)
  std::uint64_t useless_frames_ = 0;
  std::uint64_t served_streams_ = 0;  // each answered stream earns one more useless frame
  std::uint64_t oversized_header_lists_ = 0;
  // The last streams closed, in a fixed ring: a connection's memory does not grow with the
  // streams it has used. A frame on a stream older than these is ignored.
  std::array<closed_stream, 64> recently_closed_{};
  std::size_t next_closed_ = 0;
};

}  // namespace memgate::http2
