#include "strategy/body_writer.hpp"

#include "app/pattern.hpp"
#include "metrics/counters.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace memgate::strategy {
namespace {

// An output stream that records what it was handed, as a protocol's would write it.
struct recorded_output final : output_stream {
  struct part {
    bool framing;
    bytes_view bytes;
    std::shared_ptr<const void> owner;
  };
  void framing(bytes_view bytes) override { parts.push_back({true, bytes, nullptr}); }
  void view(bytes_view bytes, std::shared_ptr<const void> owner) override { parts.push_back({false, bytes, std::move(owner)}); }
  std::size_t copy_capacity(const body_piece& piece) override { return piece.size() + spare_capacity; }

  std::string wire() const {
    std::string bytes;
    for (const auto& p : parts) bytes.append(reinterpret_cast<const char*>(p.bytes.data()), p.bytes.size());
    return bytes;
  }

  std::vector<part> parts;
  std::size_t spare_capacity = 0;
};

std::string pattern_string(std::uint64_t offset, std::size_t length) {
  std::string bytes;
  for (std::size_t i = 0; i < length; ++i) bytes.push_back(static_cast<char>((offset + i) % app::pattern_period));
  return bytes;
}

std::int64_t copied() { return metrics::total(metrics::counter::bytes_copied); }

constexpr std::string_view header = "HEADER\r\n";
constexpr std::string_view trailer = "\r\n";

TEST(BodyWriter, ViewsPointIntoTheBodyAndCopyNothing) {
  const auto body = app::response_body::pattern(3 << 20);
  const std::uint64_t offset = 1000;
  const std::size_t length = (2 << 20) + 17;  // more than one pattern slice
  recorded_output out;
  std::optional<fresh_buffer> copy;
  const auto before = copied();
  body_writer_for(copy_strategy::writev)
      .write({.before = {as_bytes(header), {}}, .body = body, .offset = offset, .length = length, .after = as_bytes(trailer)},
             out, copy);
  EXPECT_EQ(copied(), before);
  EXPECT_FALSE(copy);
  ASSERT_GE(out.parts.size(), 4u);  // header, at least two slices, trailer
  EXPECT_TRUE(out.parts.front().framing);
  EXPECT_EQ(out.parts.front().bytes.data(), as_bytes(header).data());  // framing is handed on, not copied
  EXPECT_TRUE(out.parts.back().framing);
  std::uint64_t at = offset;
  for (std::size_t i = 1; i + 1 < out.parts.size(); ++i) {  // each slice is the pattern itself
    EXPECT_FALSE(out.parts[i].framing);
    EXPECT_EQ(out.parts[i].bytes.data(), app::pattern_slice(at, 1).data());
    at += out.parts[i].bytes.size();
  }
  EXPECT_EQ(out.wire(), std::string(header) + pattern_string(offset, length) + std::string(trailer));
}

TEST(BodyWriter, ViewsOfATextBodyKeepItAlive) {
  const auto body = app::response_body::text("{\"ok\": true}");
  recorded_output out;
  std::optional<fresh_buffer> copy;
  body_writer_for(copy_strategy::writev).write({.body = body, .offset = 0, .length = body.size()}, out, copy);
  ASSERT_EQ(out.parts.size(), 1u);
  EXPECT_EQ(out.parts[0].owner, body.owner());
  EXPECT_EQ(out.wire(), "{\"ok\": true}");
}

TEST(BodyWriter, BufferedCopiesFramingAndBodyIntoOneFreshBuffer) {
  const auto body = app::response_body::pattern(1 << 20);
  recorded_output out;
  std::optional<fresh_buffer> copy;
  const auto before = copied();
  body_writer_for(copy_strategy::buffered)
      .write({.before = {as_bytes(header), {}}, .body = body, .offset = 5, .length = 70000, .after = as_bytes(trailer)},
             out, copy);
  EXPECT_EQ(copied() - before, 70000);  // body bytes only: framing is not counted
  ASSERT_EQ(out.parts.size(), 1u);
  ASSERT_TRUE(copy);
  EXPECT_FALSE(out.parts[0].framing);
  EXPECT_EQ(out.parts[0].bytes.data(), copy->data());
  EXPECT_EQ(out.parts[0].owner, copy->share());
  EXPECT_EQ(copy->capacity(), header.size() + 70000 + trailer.size());  // sized once, exactly
  EXPECT_EQ(out.wire(), std::string(header) + pattern_string(5, 70000) + std::string(trailer));
}

TEST(BodyWriter, BufferedAppendsToItsBufferWhileThereIsRoomThenStartsAFreshOne) {
  const auto body = app::response_body::pattern(1 << 20);
  recorded_output out;
  out.spare_capacity = 120;  // room for one more 100-byte piece, as h2 sizes a batch
  std::optional<fresh_buffer> copy;
  const auto& writer = body_writer_for(copy_strategy::buffered);
  writer.write({.body = body, .offset = 0, .length = 100}, out, copy);
  const auto first = copy->share();
  writer.write({.body = body, .offset = 100, .length = 100}, out, copy);
  EXPECT_EQ(copy->share(), first);
  writer.write({.body = body, .offset = 200, .length = 100}, out, copy);
  EXPECT_NE(copy->share(), first);
  ASSERT_EQ(out.parts.size(), 3u);
  EXPECT_EQ(out.parts[1].bytes.data(), first->data() + 100);
  EXPECT_EQ(out.parts[1].owner, first);  // the first buffer lives while its views are written
  EXPECT_EQ(out.wire(), pattern_string(0, 300));
}

}  // namespace
}  // namespace memgate::strategy
