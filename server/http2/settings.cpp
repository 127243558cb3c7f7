#include "http2/settings.hpp"

#include <algorithm>
#include <limits>

namespace memgate::http2 {
namespace {

constexpr std::size_t frame_header_bytes = 9;
constexpr std::size_t settings_entry_bytes = 6;

}  // namespace

std::uint32_t nghttp2_stream_bound(const server_limits& limits) {
  const std::uint64_t doubled = 2ull * limits.max_concurrent_streams;
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(doubled, std::numeric_limits<std::uint32_t>::max()));
}

std::array<nghttp2_settings_entry, 4> server_settings(const server_limits& limits) {
  return {{
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, nghttp2_stream_bound(limits)},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, limits.max_header_list_bytes},
      {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, limits.h2_stream_window_bytes},
  }};
}

bool rewrite_max_concurrent_streams(std::span<std::uint8_t> frame, std::uint32_t value) {
  if (frame.size() < frame_header_bytes || frame[3] != NGHTTP2_SETTINGS || (frame[4] & NGHTTP2_FLAG_ACK) != 0) {
    return false;
  }
  const std::size_t payload = (std::size_t{frame[0]} << 16) | (std::size_t{frame[1]} << 8) | frame[2];
  if (frame.size() != frame_header_bytes + payload || payload % settings_entry_bytes != 0) return false;
  for (std::size_t at = frame_header_bytes; at < frame.size(); at += settings_entry_bytes) {
    const unsigned id = (unsigned{frame[at]} << 8) | frame[at + 1];
    if (id != NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS) continue;
    for (int i = 0; i < 4; ++i) frame[at + 2 + i] = static_cast<std::uint8_t>(value >> (24 - 8 * i));
    return true;
  }
  return false;
}

}  // namespace memgate::http2
