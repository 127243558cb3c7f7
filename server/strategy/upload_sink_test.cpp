#include "strategy/upload_sink.hpp"

#include "metrics/live_heap.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <vector>

namespace memgate::strategy {
namespace {

std::vector<std::uint8_t> sample_bytes(std::size_t size) {
  std::vector<std::uint8_t> bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::uint8_t>(i * 31 + 7);
  return bytes;
}

boost::json::object result(upload_sink& sink) { return boost::json::parse(sink.finish_json()).as_object(); }

TEST(UploadSink, BothStrategiesAnswerTheSameCountAndCrc) {
  const auto bytes = sample_bytes(200'000);
  upload_sink streamed(request_body_strategy::streamed, 1 << 30);
  upload_sink buffered(request_body_strategy::buffered, 1 << 30);
  for (std::size_t offset = 0; offset < bytes.size(); offset += 16384) {
    const std::size_t n = std::min<std::size_t>(16384, bytes.size() - offset);
    ASSERT_TRUE(streamed.accept({bytes.data() + offset, n}));
    ASSERT_TRUE(buffered.accept({bytes.data() + offset, n}));
  }
  const auto a = result(streamed), b = result(buffered);
  EXPECT_EQ(a.at("bytes").as_int64(), 200'000);
  EXPECT_EQ(a, b);
}

TEST(UploadSink, CrcIsZlibs) {
  upload_sink sink(request_body_strategy::streamed, 0);
  const std::string text = "123456789";
  sink.accept({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
  EXPECT_EQ(result(sink).at("crc32").as_int64(), 0xCBF43926);  // zlib.crc32(b"123456789")
}

TEST(UploadSink, StreamedHoldsNothingBufferedHoldsTheBody) {
  const auto chunk = sample_bytes(1 << 20);
  const auto before = metrics::read_live_heap().live_bytes;
  upload_sink streamed(request_body_strategy::streamed, 0);
  for (int i = 0; i < 8; ++i) streamed.accept(chunk);
  EXPECT_LT(metrics::read_live_heap().live_bytes - before, 4096);
  upload_sink buffered(request_body_strategy::buffered, 64 << 20);
  for (int i = 0; i < 8; ++i) buffered.accept(chunk);
  EXPECT_GE(metrics::read_live_heap().live_bytes - before, 8 << 20);
}

TEST(UploadSink, BufferedRefusesPastItsLimit) {
  const auto chunk = sample_bytes(1000);
  upload_sink sink(request_body_strategy::buffered, 2500);
  EXPECT_TRUE(sink.accept(chunk));
  EXPECT_TRUE(sink.accept(chunk));
  EXPECT_FALSE(sink.accept(chunk));
}

}  // namespace
}  // namespace memgate::strategy
