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
void session::on_reset_by_peer(const stream_state& stream) {
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
