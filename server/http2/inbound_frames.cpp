#include "http2/inbound_frames.hpp"

#include <nghttp2/nghttp2.h>

#include <algorithm>

namespace memgate::http2 {
namespace {

constexpr std::size_t frame_header_bytes = 9;
constexpr std::size_t dependency_bytes = 4;

std::uint32_t read_u32(const std::uint8_t* at) {
  return (std::uint32_t{at[0]} << 24) | (std::uint32_t{at[1]} << 16) | (std::uint32_t{at[2]} << 8) | at[3];
}

}  // namespace

inbound_step inbound_frames::take(std::span<const std::uint8_t>& input) {
  const auto pass = [&input](std::uint64_t limit) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(limit, input.size()));
    const auto taken = input.first(n);
    input = input.subspan(n);
    return taken;
  };
  if (preface_left_ > 0) {
    const auto taken = pass(preface_left_);
    preface_left_ -= taken.size();
    return {taken, std::nullopt};
  }
  if (payload_left_ > 0) {
    const auto taken = pass(payload_left_);
    payload_left_ -= taken.size();
    return {taken, std::nullopt};
  }
  const auto held_length = [this] { return (std::uint32_t{held_[0]} << 16) | (std::uint32_t{held_[1]} << 8) | held_[2]; };
  const auto wanted = [&] {
    if (held_size_ < frame_header_bytes) return frame_header_bytes;
    const bool priority = held_[3] == NGHTTP2_PRIORITY && held_length() >= dependency_bytes;
    return priority ? frame_header_bytes + dependency_bytes : frame_header_bytes;
  };
  while (!input.empty() && held_size_ < wanted()) held_[held_size_++] = pass(1)[0];
  if (held_size_ < wanted()) return {{}, std::nullopt};  // all of `input` is held

  inbound_frame frame{.length = held_length(), .type = held_[3], .flags = held_[4],
                      .stream_id = static_cast<std::int32_t>(read_u32(&held_[5]) & 0x7fffffffu)};
  if (held_size_ > frame_header_bytes) {
    frame.dependency = static_cast<std::int32_t>(read_u32(&held_[frame_header_bytes]) & 0x7fffffffu);
  }
  payload_left_ = frame.length - (held_size_ - frame_header_bytes);
  const std::span<const std::uint8_t> header(held_.data(), held_size_);
  held_size_ = 0;
  return {header, frame};
}

}  // namespace memgate::http2
