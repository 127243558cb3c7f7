// A bare server session against raw frames: the stream limit and the cap on frames owed
// to a peer that does not read, which a well-behaved client library never reaches.
#include "http2/session.hpp"

#include "metrics/counters.hpp"
#include "testing/h2_frames.hpp"
#include "testing/session_services.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>


namespace memgate::http2 {
namespace {

using testing::h2_frame;
using testing::h2_serialize;

class raw_client {
 public:
  explicit raw_client(server_config config)
      : app_(std::move(config), io_), server_(std::make_shared<session>(app_.services, app_.strategies, io_.get_executor(), [] {})) {}

  receive_result send(const std::string& bytes) {
    return server_->receive({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
  }

  // Preface, then the server's SETTINGS acknowledged: its limits are in force.
  std::vector<h2_frame> handshake() {
    send(testing::h2_client_preface());
    auto frames = written();
    send(h2_serialize(NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0));
    return frames;
  }

  // Everything the server has to write, each batch reported written.
  std::vector<h2_frame> written() {
    std::string bytes;
    for (auto* batch = &server_->collect_output(); !batch->empty(); batch = &server_->collect_output()) {
      append(bytes, *batch);
      server_->on_batch_written();
    }
    return testing::h2_parse(bytes);
  }

  // One batch goes out and its write never completes: a peer that stopped reading.
  void stall_a_write() {
    send(ping());
    ASSERT_FALSE(server_->collect_output().empty());
  }

  static std::string ping() { return h2_serialize(NGHTTP2_PING, 0, 0, "12345678"); }
  static std::string pings(int count) {
    std::string out;
    for (int i = 0; i < count; ++i) out += ping();
    return out;
  }

 private:
  static void append(std::string& out, output_batch& batch) {
    for (const auto& buffer : batch.buffers()) out.append(static_cast<const char*>(buffer.data()), buffer.size());
  }

  boost::asio::io_context io_;
  testing::session_services app_;
  std::shared_ptr<session> server_;
};

std::string open_upload(std::uint32_t stream_id) {
  const auto block = testing::h2_request_block("POST", "/upload");
  return h2_serialize(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, stream_id, block);  // no END_STREAM: stays open
}

std::vector<h2_frame> of_type(const std::vector<h2_frame>& frames, std::uint8_t type) {
  std::vector<h2_frame> found;
  for (const auto& frame : frames) {
    if (frame.type == type) found.push_back(frame);
  }
  return found;
}

server_config with_stream_limit(std::uint32_t streams) {
  server_config config;
  config.limits.max_concurrent_streams = streams;
  return config;
}

TEST(Http2Limits, TheAdvertisedStreamLimitIsTheConfiguredOne) {
  raw_client peer(with_stream_limit(10));
  const auto settings = of_type(peer.handshake(), NGHTTP2_SETTINGS);
  ASSERT_FALSE(settings.empty());
  EXPECT_EQ(settings.front().setting(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS), 10u);
}

TEST(Http2Limits, AStreamPastTheAcknowledgedLimitIsRefusedAlone) {
  const auto open_before = metrics::total(metrics::counter::h2_streams_open);
  auto peer_owner = std::make_unique<raw_client>(with_stream_limit(10));
  auto& peer = *peer_owner;
  peer.handshake();
  std::string streams;
  for (std::uint32_t i = 0; i < 11; ++i) streams += open_upload(1 + 2 * i);
  EXPECT_EQ(peer.send(streams), receive_result::keep_reading);
  const auto out = peer.written();
  const auto resets = of_type(out, NGHTTP2_RST_STREAM);
  ASSERT_EQ(resets.size(), 1u);  // REFUSED_STREAM only: nghttp2's own INTERNAL_ERROR reset is not added
  EXPECT_EQ(resets[0].stream_id, 21u);
  EXPECT_EQ(resets[0].error_code(), static_cast<std::uint32_t>(NGHTTP2_REFUSED_STREAM));
  EXPECT_TRUE(of_type(out, NGHTTP2_GOAWAY).empty());
  EXPECT_EQ(metrics::total(metrics::counter::h2_streams_open) - open_before, 10);
  // The refused stream is gone once its reset is out: the next one past the limit is refused too, the connection lives.
  peer.send(open_upload(23));
  const auto again = of_type(peer.written(), NGHTTP2_RST_STREAM);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].error_code(), static_cast<std::uint32_t>(NGHTTP2_REFUSED_STREAM));
  peer_owner.reset();  // the connection goes with its streams open: they leave the gauge too
  EXPECT_EQ(metrics::total(metrics::counter::h2_streams_open) - open_before, 0);
}

TEST(Http2Limits, AClientFarPastTheStreamLimitLosesTheConnection) {
  // nghttp2 enforces twice the advertised limit, counting refused streams until their reset is out.
  raw_client peer(with_stream_limit(10));
  peer.handshake();
  std::string streams;
  for (std::uint32_t i = 0; i < 21; ++i) streams += open_upload(1 + 2 * i);
  peer.send(streams);
  const auto goaway = of_type(peer.written(), NGHTTP2_GOAWAY);
  ASSERT_EQ(goaway.size(), 1u);
  EXPECT_EQ(goaway[0].error_code(), static_cast<std::uint32_t>(NGHTTP2_PROTOCOL_ERROR));
}

TEST(Http2Limits, FramesOwedToAPeerThatDoesNotReadEndTheConnectionAtOnce) {
  server_config config;
  config.limits.h2_max_queued_frames = 50;
  config.limits.h2_max_outbound_acks = 100'000;  // our cap, not nghttp2's, is under test
  raw_client peer(config);
  peer.handshake();
  peer.stall_a_write();
  EXPECT_EQ(peer.send(raw_client::pings(45)), receive_result::keep_reading);
  EXPECT_EQ(peer.send(raw_client::pings(10)), receive_result::close_now);
}

TEST(Http2Limits, TheSameFramesFromAPeerThatReadsAreAnswered) {
  server_config config;
  config.limits.h2_max_queued_frames = 50;
  config.limits.h2_max_outbound_acks = 100'000;
  raw_client peer(config);
  peer.handshake();
  EXPECT_EQ(peer.send(raw_client::pings(55)), receive_result::keep_reading);
  EXPECT_EQ(of_type(peer.written(), NGHTTP2_PING).size(), 55u);
}

TEST(Http2Limits, AnAckFloodDuringAStalledWriteEndsTheConnectionAtOnce) {
  server_config config;
  config.limits.h2_max_outbound_acks = 20;
  {
    raw_client reading(config);  // nghttp2's flood verdict, then a GOAWAY the peer can read
    reading.handshake();
    EXPECT_EQ(reading.send(raw_client::pings(30)), receive_result::flush_then_close);
    const auto goaway = of_type(reading.written(), NGHTTP2_GOAWAY);
    ASSERT_EQ(goaway.size(), 1u);
    EXPECT_EQ(goaway[0].error_code(), static_cast<std::uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
  }
  raw_client stalled(config);  // the GOAWAY would wait behind what the peer does not read
  stalled.handshake();
  stalled.stall_a_write();
  EXPECT_EQ(stalled.send(raw_client::pings(30)), receive_result::close_now);
}

}  // namespace
}  // namespace memgate::http2
