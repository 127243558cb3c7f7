#include "http2/inbound_frames.hpp"

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <string>
#include <vector>

namespace memgate::http2 {
namespace {

std::string frame(std::uint8_t type, std::uint8_t flags, std::uint32_t stream, const std::string& payload) {
  std::string out{static_cast<char>(payload.size() >> 16), static_cast<char>(payload.size() >> 8),
                  static_cast<char>(payload.size()), static_cast<char>(type), static_cast<char>(flags),
                  static_cast<char>(stream >> 24), static_cast<char>(stream >> 16), static_cast<char>(stream >> 8),
                  static_cast<char>(stream)};
  return out + payload;
}

struct cut {
  std::string passed;
  std::vector<inbound_frame> frames;
};

// Feeds `wire` in pieces of `piece` bytes, as reads would deliver it.
cut feed(const std::string& wire, std::size_t piece) {
  inbound_frames frames;
  cut out;
  for (std::size_t at = 0; at < wire.size(); at += piece) {
    const std::string part = wire.substr(at, piece);
    std::span<const std::uint8_t> input(reinterpret_cast<const std::uint8_t*>(part.data()), part.size());
    while (!input.empty()) {
      const inbound_step step = frames.take(input);
      if (step.frame) out.frames.push_back(*step.frame);
      out.passed.append(reinterpret_cast<const char*>(step.bytes.data()), step.bytes.size());
    }
  }
  return out;
}

TEST(InboundFrames, PassesEveryByteInOrderAndNamesEachFrameHowEverItIsSplit) {
  const std::string wire = std::string(24, 'P') + frame(NGHTTP2_SETTINGS, 0, 0, "") +
                           frame(NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, 3, "hello") +
                           frame(NGHTTP2_PRIORITY, 0, 5, std::string("\x80\0\0\x05\x10", 5)) +
                           frame(NGHTTP2_PRIORITY, 0, 7, "\x01");
  for (std::size_t piece : {std::size_t{1}, std::size_t{7}, wire.size()}) {
    const cut got = feed(wire, piece);
    EXPECT_EQ(got.passed, wire) << piece;
    ASSERT_EQ(got.frames.size(), 4u) << piece;
    EXPECT_EQ(got.frames[1].type, NGHTTP2_DATA);
    EXPECT_EQ(got.frames[1].stream_id, 3);
    EXPECT_EQ(got.frames[1].length, 5u);
    EXPECT_EQ(got.frames[1].flags, NGHTTP2_FLAG_END_STREAM);
    EXPECT_EQ(got.frames[2].dependency, 5) << "the exclusive bit is not part of the id";
    EXPECT_EQ(got.frames[3].dependency, 0) << "a PRIORITY frame too short to hold a dependency";
  }
}

}  // namespace
}  // namespace memgate::http2
