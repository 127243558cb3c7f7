#pragma once
// The server's SETTINGS, and the one place where what the peer is told differs from
// what nghttp2 is told: the concurrent stream limit.
//
// RFC 9113 5.1.2 lets a server refuse a stream past its advertised limit with
// REFUSED_STREAM, which the client may retry. nghttp2 1.52 refuses only while the
// limit is unacknowledged; once the peer ACKs it, one stream too many is a connection
// error (PROTOCOL_ERROR) for every stream on the connection. So nghttp2 is told twice
// the limit, session::on_begin_headers refuses streams past the advertised limit
// itself, and the SETTINGS frame on the wire is rewritten to carry the advertised value.
// Memory stays bounded: nghttp2 still ends a connection with more than twice the
// limit open at once (refused streams count until their RST_STREAM is out).
#include "config/limits.hpp"

#include <nghttp2/nghttp2.h>

#include <array>
#include <cstdint>
#include <span>

namespace memgate::http2 {

// SETTINGS_MAX_CONCURRENT_STREAMS as nghttp2 enforces it.
std::uint32_t nghttp2_stream_bound(const server_limits& limits);

// What the server submits to nghttp2 (stream limit: nghttp2_stream_bound).
std::array<nghttp2_settings_entry, 4> server_settings(const server_limits& limits);

// Rewrites SETTINGS_MAX_CONCURRENT_STREAMS in a serialized SETTINGS frame (not an ACK).
// False, and `frame` untouched, when it is not such a frame.
bool rewrite_max_concurrent_streams(std::span<std::uint8_t> frame, std::uint32_t value);

}  // namespace memgate::http2
