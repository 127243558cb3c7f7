#pragma once
// Cuts what the client sends at frame headers, so the session can judge each frame against
// the state nghttp2 had just before it (RFC 9113 rules libnghttp2 1.52 leaves out, see
// session_defences.cpp). Bytes pass through unchanged; a frame header is held until it is
// whole, with the stream dependency of a PRIORITY frame (the first 4 payload bytes).
#include <array>
#include <cstdint>
#include <optional>
#include <span>

namespace memgate::http2 {

struct inbound_frame {
  std::uint32_t length = 0;
  std::uint8_t type = 0;
  std::uint8_t flags = 0;
  std::int32_t stream_id = 0;
  std::int32_t dependency = 0;  // PRIORITY only
};

struct inbound_step {
  std::span<const std::uint8_t> bytes;  // hand these on, in this order
  std::optional<inbound_frame> frame;   // set when `bytes` start with a whole frame header
};

class inbound_frames {
 public:
  // Takes bytes off the front of `input` (at least one byte when it is not empty).
  inbound_step take(std::span<const std::uint8_t>& input);

 private:
  std::size_t preface_left_ = 24;  // the client preface comes before any frame
  std::uint64_t payload_left_ = 0;
  std::array<std::uint8_t, 13> held_{};  // a frame header, and a PRIORITY frame's dependency
  std::size_t held_size_ = 0;
};

}  // namespace memgate::http2
