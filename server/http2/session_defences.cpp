// The session's defences against peers that make it work for nothing: frames owed to a
// peer that does not read, frames that ask for nothing, stream ids that go backwards.
#include "http2/session.hpp"

namespace memgate::http2 {

// Frames we owe the peer (ACKs, resets, window updates) pile up in nghttp2's queue only
// while our write is in flight: the peer keeps sending but does not take what we send.
// A GOAWAY would queue behind them, so the connection is cut at once. Our own output is
// bounded apart from this: one batch in flight, nothing collected meanwhile.
bool session::peer_ignores_owed_frames(bool flooded) const {
  if (!write_in_flight_) return false;
  return flooded || nghttp2_session_get_outbound_queue_size(session_) > app_.config.limits.h2_max_queued_frames;
}

// nghttp2 closes the stream right after this.
void session::on_reset_by_peer(stream_state& stream) {
  stream.reset_by_peer = true;
  metrics::add(metrics::counter::h2_streams_reset_by_peer);
  if (stream.response_complete) return;
  note_useless_frame();  // reset before we answered: work for nothing
  if (stream.responding) app::on_response_abandoned(app_);
}

// Seen before nghttp2 parses (or, for PRIORITY with RFC 7540 priorities off,
// silently skips) the payload.
int session::on_begin_frame(const nghttp2_frame_hd& header) {
  const bool empty_data = header.type == NGHTTP2_DATA && header.length == 0 &&
                          (header.flags & NGHTTP2_FLAG_END_STREAM) == 0;
  if (header.type == NGHTTP2_PRIORITY || empty_data) note_useless_frame();
  // RFC 9113 5.1.1: a new stream id must be above every one the client opened, or it is a
  // connection error PROTOCOL_ERROR. libnghttp2 1.52 silently ignores HEADERS on an unknown
  // stream at or below the last one it processed (it still HPACK-decodes the block). A stream
  // it still knows (trailers, half-closed) stays its business. A HEADERS that reuses a stream
  // both sides already closed also lands here: the RFC wants STREAM_CLOSED for that one, and
  // telling the two apart would mean remembering every stream id the connection ever used.
  if (header.type == NGHTTP2_HEADERS && (header.stream_id & 1) != 0 &&
      header.stream_id <= nghttp2_session_get_last_proc_stream_id(session_) &&
      nghttp2_session_find_stream(session_, header.stream_id) == nullptr) {
    nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
  }
  return 0;
}

// Frames that cost us work and ask for nothing (PRIORITY, empty DATA, early
// resets, streams past the limit): past the budget, which every answered stream
// raises by one, GOAWAY.
void session::note_useless_frame() {
  if (++useless_frames_ > app_.config.limits.h2_useless_frame_budget + served_streams_) {
    nghttp2_session_terminate_session(session_, NGHTTP2_ENHANCE_YOUR_CALM);
  }
}

}  // namespace memgate::http2

namespace memgate::http2 {

void session::remember_closed(const stream_state& stream, std::uint32_t error_code) {
  closed_by how = closed_by::unknown;
  if (stream.reset_by_peer) {
    how = closed_by::client_reset;
  } else if (stream.client_ended && !stream.rejected && error_code == NGHTTP2_NO_ERROR) {
    how = closed_by::client_end_stream;
  }
  recently_closed_[next_closed_] = {stream.id, how};
  next_closed_ = (next_closed_ + 1) % recently_closed_.size();
}

closed_by session::how_closed(std::int32_t stream_id) const {
  for (const closed_stream& closed : recently_closed_) {
    if (closed.id == stream_id) return closed.how;
  }
  return closed_by::unknown;
}

// RFC 9113 rules libnghttp2 1.52 does not keep, judged on each frame header before nghttp2
// reads the frame.
void session::judge_inbound_frame(const inbound_frame& frame) {
  if (frame.type == NGHTTP2_PRIORITY) {
    // 6.3 and 5.3.1 hold with RFC 7540 priorities off too, where nghttp2 skips PRIORITY unread.
    if (frame.stream_id == 0) {
      nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
    } else if (frame.length == 5 && frame.dependency == frame.stream_id) {
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, frame.stream_id, NGHTTP2_PROTOCOL_ERROR);
    }
    return;
  }
  // nghttp2 forgets a stream once it is closed (it keeps closed streams only for RFC 7540
  // priorities) and ignores DATA and HEADERS on it. 5.1 and 6.1 want STREAM_CLOSED: a
  // connection error after the client's END_STREAM, a stream error after its RST_STREAM.
  // After our own RST_STREAM such frames may still be in flight and are ignored.
  if ((frame.type != NGHTTP2_DATA && frame.type != NGHTTP2_HEADERS) || frame.stream_id == 0 ||
      nghttp2_session_find_stream(session_, frame.stream_id) != nullptr) {
    return;
  }
  switch (how_closed(frame.stream_id)) {
    case closed_by::client_end_stream:
      nghttp2_session_terminate_session(session_, NGHTTP2_STREAM_CLOSED);
      return;
    case closed_by::client_reset:
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, frame.stream_id, NGHTTP2_STREAM_CLOSED);
      note_useless_frame();
      return;
    case closed_by::unknown:
      return;
  }
}

}  // namespace memgate::http2
