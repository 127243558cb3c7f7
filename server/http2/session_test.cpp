// The socket-free HTTP/2 session against an in-memory nghttp2 client.
#include "http2/session.hpp"

#include "app/http_date.hpp"
#include "metrics/counters.hpp"
#include "metrics/live_heap.hpp"
#include "pool/free_lists.hpp"
#include "testing/session_services.hpp"
#include "testing/test_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <vector>

namespace memgate::http2 {
namespace {

struct client_stream {
  std::string status;
  std::string body;
  bool closed = false;
  std::uint32_t close_code = 0;
};

// Runs a server session and an nghttp2 client session against each other in memory.
class exchange {
 public:
  explicit exchange(server_config config)
      : app_(std::move(config), io_) {
    server_ = std::make_shared<session>(app_.services, app_.strategies, io_.get_executor(), [] {});
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame);
    nghttp2_session_client_new(&client_, callbacks, this);
    nghttp2_session_callbacks_del(callbacks);
    nghttp2_submit_settings(client_, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~exchange() { nghttp2_session_del(client_); }

  std::int32_t get(const std::string& path, std::vector<std::pair<std::string, std::string>> extra = {}) {
    extra_headers_ = std::move(extra);
    return submit("GET", path, nullptr);
  }

  // RST_STREAM CANCEL from the client: now, or once `after_bytes` of the body arrived.
  void cancel(std::int32_t id, std::size_t after_bytes = 0) {
    if (after_bytes == 0) {
      nghttp2_submit_rst_stream(client_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    } else {
      cancel_after_[id] = after_bytes;
    }
  }

  // Raw PRIORITY frames (nghttp2's client would drop them: the server turned RFC 7540 priorities off).
  void send_priority_frames(std::uint8_t stream_id, int count) {
    const std::uint8_t frame[] = {0, 0, 5, NGHTTP2_PRIORITY, 0, 0, 0, 0, stream_id, 0, 0, 0, 0, 16};
    for (int i = 0; i < count; ++i) {
      server_alive_ = server_->receive({frame, sizeof frame}) == receive_result::keep_reading && server_alive_;
    }
  }

  std::int32_t post(const std::string& path, std::string body) {
    upload_ = std::move(body);
    upload_offset_ = 0;
    nghttp2_data_provider provider{};
    provider.read_callback = read_upload;
    return submit("POST", path, &provider);
  }

  // What the client has to send reaches the server; nothing comes back yet.
  void deliver_client_frames() {
    const std::uint8_t* data = nullptr;
    for (ssize_t n; (n = nghttp2_session_mem_send(client_, &data)) > 0;) {
      server_alive_ =
          server_->receive({data, static_cast<std::size_t>(n)}) == receive_result::keep_reading && server_alive_;
    }
  }

  // Moves bytes both ways until neither side has anything left to say.
  void pump() {
    for (int round = 0; round < 100000; ++round) {
      bool moved = false;
      const std::uint8_t* data = nullptr;
      for (ssize_t n; (n = nghttp2_session_mem_send(client_, &data)) > 0;) {
        moved = true;
        server_alive_ =
            server_->receive({data, static_cast<std::size_t>(n)}) == receive_result::keep_reading && server_alive_;
      }
      auto& batch = server_->collect_output();
      for (const auto& buffer : batch.buffers()) {
        moved = true;
        const auto* bytes = static_cast<const std::uint8_t*>(buffer.data());
        wire_.append(reinterpret_cast<const char*>(bytes), buffer.size());
        nghttp2_session_mem_recv(client_, bytes, buffer.size());
      }
      if (!batch.empty()) server_->on_batch_written();
      moved = io_.poll() > 0 || moved;
      io_.restart();
      if (!moved) return;
    }
    FAIL() << "the exchange did not settle";
  }

  client_stream& response(std::int32_t id) { return streams_[id]; }
  const std::string& wire() const { return wire_; }
  bool server_alive() const { return server_alive_; }
  std::uint32_t goaway_code() const { return goaway_code_; }
  session& server() { return *server_; }

 private:
  std::int32_t submit(const char* method, const std::string& path, const nghttp2_data_provider* provider) {
    auto nv = [](std::string_view name, std::string_view value) {
      return nghttp2_nv{(std::uint8_t*)name.data(), (std::uint8_t*)value.data(), name.size(), value.size(),
                        NGHTTP2_NV_FLAG_NONE};
    };
    std::vector<nghttp2_nv> headers{nv(":method", method), nv(":scheme", "http"), nv(":authority", "test"),
                                    nv(":path", path)};
    for (const auto& [name, value] : extra_headers_) headers.push_back(nv(name, value));
    return nghttp2_submit_request(client_, nullptr, headers.data(), headers.size(), provider, nullptr);
  }

  static exchange& of(void* user_data) { return *static_cast<exchange*>(user_data); }
  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name, std::size_t name_length,
                       const std::uint8_t* value, std::size_t value_length, std::uint8_t, void* user_data) {
    if (std::string_view(reinterpret_cast<const char*>(name), name_length) == ":status") {
      of(user_data).streams_[frame->hd.stream_id].status.assign(reinterpret_cast<const char*>(value), value_length);
    }
    return 0;
  }
  static int on_data(nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* data, std::size_t length,
                     void* user_data) {
    auto& self = of(user_data);
    auto& body = self.streams_[id].body;
    body.append(reinterpret_cast<const char*>(data), length);
    const auto cancel = self.cancel_after_.find(id);
    if (cancel != self.cancel_after_.end() && body.size() >= cancel->second) {
      self.cancel_after_.erase(cancel);
      nghttp2_submit_rst_stream(self.client_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    }
    return 0;
  }
  static int on_close(nghttp2_session*, std::int32_t id, std::uint32_t code, void* user_data) {
    auto& stream = of(user_data).streams_[id];
    stream.closed = true;
    stream.close_code = code;
    return 0;
  }
  static int on_frame(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    if (frame->hd.type == NGHTTP2_GOAWAY) of(user_data).goaway_code_ = frame->goaway.error_code;
    return 0;
  }
  static ssize_t read_upload(nghttp2_session*, std::int32_t, std::uint8_t* buffer, std::size_t length,
                             std::uint32_t* flags, nghttp2_data_source*, void* user_data) {
    auto& self = of(user_data);
    const std::size_t n = std::min(length, self.upload_.size() - self.upload_offset_);
    std::memcpy(buffer, self.upload_.data() + self.upload_offset_, n);
    self.upload_offset_ += n;
    if (self.upload_offset_ == self.upload_.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }

  boost::asio::io_context io_;
  testing::session_services app_;
  std::shared_ptr<session> server_;
  nghttp2_session* client_ = nullptr;
  std::map<std::int32_t, client_stream> streams_;
  std::map<std::int32_t, std::size_t> cancel_after_;
  std::string wire_;
  std::string upload_;
  std::size_t upload_offset_ = 0;
  std::vector<std::pair<std::string, std::string>> extra_headers_;
  bool server_alive_ = true;
  std::uint32_t goaway_code_ = 0;
};

server_config with(copy_strategy copy, bool backpressure = true) {
  server_config config;
  config.copy = copy;
  config.no_backpressure = !backpressure;
  return config;
}

TEST(Http2Session, StrategiesPutIdenticalBytesOnTheWireAndOnlyBufferedCopies) {
  std::string wires[2];
  std::int64_t copied[2];
  // Every response carries the Date of its second: the pair is compared only when both
  // exchanges ran within one second, so the two wires may differ only by strategy.
  for (int attempt = 0; attempt < 3; ++attempt) {
    const std::string date_before(app::http_date_now());
    for (int i = 0; i < 2; ++i) {
      exchange h2(with(i == 0 ? copy_strategy::writev : copy_strategy::buffered));
      const auto before = metrics::total(metrics::counter::bytes_copied);
      const auto a = h2.get("/bytes/200000");
      const auto b = h2.get("/bytes/65536");
      h2.pump();
      copied[i] = metrics::total(metrics::counter::bytes_copied) - before;
      EXPECT_EQ(h2.response(a).status, "200");
      EXPECT_EQ(h2.response(a).body, testing::pattern_string(0, 200000));
      EXPECT_EQ(h2.response(b).body, testing::pattern_string(0, 65536));
      wires[i] = h2.wire();
    }
    if (app::http_date_now() == date_before) break;
  }
  EXPECT_EQ(wires[0], wires[1]);
  EXPECT_EQ(copied[0], 0);
  EXPECT_EQ(copied[1], 200000 + 65536);
}

TEST(Http2Session, StreamsDeliverThePatternUnderEveryStrategy) {
  for (auto copy : {copy_strategy::writev, copy_strategy::buffered}) {
    for (bool backpressure : {true, false}) {
      exchange h2(with(copy, backpressure));
      const auto id = h2.get("/stream/250000?chunk=3000");
      h2.pump();
      EXPECT_EQ(h2.response(id).status, "200");
      EXPECT_EQ(h2.response(id).body, testing::pattern_string(0, 250000))
          << to_string(copy) << " backpressure " << backpressure;
      EXPECT_TRUE(h2.response(id).closed);
    }
  }
}

TEST(Http2Session, UploadAnswersCountAndCrc) {
  exchange h2(with(copy_strategy::writev));
  const auto id = h2.post("/upload", testing::pattern_string(0, 3'000'000));
  h2.pump();
  ASSERT_EQ(h2.response(id).status, "200");
  const auto json = boost::json::parse(h2.response(id).body).as_object();
  EXPECT_EQ(json.at("bytes").as_int64(), 3'000'000);
  EXPECT_EQ(json.at("crc32").as_int64(), 1534205190);
}

TEST(Http2Session, BufferedUploadPastTheLimitGets413) {
  auto config = with(copy_strategy::writev);
  config.request_body = request_body_strategy::buffered;
  config.limits.max_buffered_body_bytes = 50'000;
  exchange h2(config);
  const auto id = h2.post("/upload", testing::pattern_string(0, 200'000));
  h2.pump();
  EXPECT_EQ(h2.response(id).status, "413");
  EXPECT_TRUE(h2.response(id).closed);
  EXPECT_TRUE(h2.server_alive());
}

TEST(Http2Session, ErrorsAreStatusesNotConnectionFailures) {
  exchange h2(with(copy_strategy::writev));
  const auto missing = h2.get("/nowhere");
  const auto bad = h2.get("/bytes/xyz");
  const auto fine = h2.get("/json?items=3");
  h2.pump();
  EXPECT_EQ(h2.response(missing).status, "404");
  EXPECT_EQ(h2.response(bad).status, "400");
  EXPECT_EQ(h2.response(fine).status, "200");
  EXPECT_EQ(boost::json::parse(h2.response(fine).body).at("count").as_int64(), 3);
}

TEST(Http2Session, MemSamplesAfterTheTrimFanOut) {
  exchange h2(with(copy_strategy::writev));
  const auto id = h2.get("/mem");
  h2.pump();
  ASSERT_EQ(h2.response(id).status, "200");
  const auto mem = boost::json::parse(h2.response(id).body).as_object();
  EXPECT_TRUE(mem.at("trimmed").as_bool());
  EXPECT_GT(mem.at("rss_bytes").as_int64(), 0);
}

TEST(Http2Session, ABadPrefaceEndsTheConnectionWithGoaway) {
  boost::asio::io_context io;
  testing::session_services app(server_config{}, io);
  auto server = std::make_shared<session>(app.services, app.strategies, io.get_executor(), [] {});
  const std::string not_a_preface = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_EQ(server->receive({reinterpret_cast<const std::uint8_t*>(not_a_preface.data()), not_a_preface.size()}),
            receive_result::flush_then_close);
  std::string out;
  for (const auto& buffer : server->collect_output().buffers()) out.append(static_cast<const char*>(buffer.data()), buffer.size());
  // A GOAWAY frame (type 0x7) is among what the server still sends.
  bool goaway = false;
  for (std::size_t pos = 0; pos + 9 <= out.size();) {
    const std::size_t length = (std::uint8_t(out[pos]) << 16) | (std::uint8_t(out[pos + 1]) << 8) | std::uint8_t(out[pos + 2]);
    goaway = goaway || out[pos + 3] == 0x7;
    pos += 9 + length;
  }
  EXPECT_TRUE(goaway);
}

TEST(Http2Session, HeaderListsPastTheLimitAreResetWithoutHoldingThem) {
  exchange h2(with(copy_strategy::writev));
  std::vector<std::pair<std::string, std::string>> many;
  for (int i = 0; i < 150; ++i) many.emplace_back("x-field-" + std::to_string(i), "1");
  const auto too_many = h2.get("/bytes/10", many);
  const auto too_big = h2.get("/bytes/10", {{"x-big-1", std::string(6000, 'a')}, {"x-big-2", std::string(6000, 'b')},
                                            {"x-big-3", std::string(6000, 'c')}});
  const auto fine = h2.get("/bytes/10", {{"x-small", "1"}});
  h2.pump();
  EXPECT_TRUE(h2.response(too_many).closed);
  EXPECT_EQ(h2.response(too_many).status, "");  // reset, never answered
  EXPECT_NE(h2.response(too_many).close_code, static_cast<std::uint32_t>(NGHTTP2_NO_ERROR));
  EXPECT_EQ(h2.response(fine).status, "200");
  EXPECT_EQ(h2.response(too_big).status, "200");  // 18 KiB: within the 64 KiB limit
  EXPECT_TRUE(h2.server_alive());
  EXPECT_EQ(h2.goaway_code(), 0u);
}

TEST(Http2Session, RepeatedOversizedHeaderListsEndTheConnection) {
  auto config = with(copy_strategy::writev);
  config.limits.h2_max_oversized_header_lists = 2;
  exchange h2(config);
  std::vector<std::pair<std::string, std::string>> many;
  for (int i = 0; i < 150; ++i) many.emplace_back("x-field-" + std::to_string(i), "1");
  for (int i = 0; i < 3; ++i) h2.get("/bytes/10", many);
  h2.pump();
  EXPECT_EQ(h2.goaway_code(), static_cast<std::uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
}

TEST(Http2Session, UselessFramesPastTheBudgetEndTheConnection) {
  auto config = with(copy_strategy::writev);
  config.limits.h2_useless_frame_budget = 50;
  exchange h2(config);
  const auto id = h2.get("/bytes/10");
  h2.pump();
  ASSERT_EQ(h2.response(id).status, "200");
  h2.send_priority_frames(3, 20);  // within the budget: nothing happens
  h2.pump();
  EXPECT_EQ(h2.goaway_code(), 0u);
  h2.send_priority_frames(3, 100);
  h2.pump();
  EXPECT_EQ(h2.goaway_code(), static_cast<std::uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
}

TEST(Http2Session, RequestsAreCountedOnceTheResponseEnds) {
  exchange h2(with(copy_strategy::writev));
  const auto before = metrics::total(metrics::counter::h2_requests);
  for (int i = 0; i < 5; ++i) h2.get("/bytes/10");
  h2.get("/healthz");
  h2.pump();
  EXPECT_EQ(metrics::total(metrics::counter::h2_requests) - before, 5);
}

server_config leaking_per_reset(std::size_t bytes) {
  auto config = with(copy_strategy::writev);
  config.inject_leak_per_reset_bytes = bytes;
  return config;
}

TEST(Http2Session, AResponseTheClientResetsMidwayLeaksOnce) {
  exchange h2(leaking_per_reset(1000));
  const auto leaked = metrics::total(metrics::counter::leaked_bytes);
  const auto resets = metrics::total(metrics::counter::h2_streams_reset_by_peer);
  const auto id = h2.get("/bytes/10000000");
  h2.cancel(id, 100'000);
  h2.pump();
  EXPECT_TRUE(h2.response(id).closed);
  EXPECT_LT(h2.response(id).body.size(), 10'000'000u);
  EXPECT_EQ(metrics::total(metrics::counter::leaked_bytes) - leaked, 1000);
  EXPECT_EQ(metrics::total(metrics::counter::h2_streams_reset_by_peer) - resets, 1);
  EXPECT_TRUE(h2.server_alive());
}

TEST(Http2Session, AResponseResetBeforeItsFirstByteLeaksToo) {
  exchange h2(leaking_per_reset(1000));
  const auto leaked = metrics::total(metrics::counter::leaked_bytes);
  const auto id = h2.get("/bytes/100000");
  h2.deliver_client_frames();  // the response is queued, not yet sent
  h2.cancel(id);
  h2.pump();
  EXPECT_EQ(metrics::total(metrics::counter::leaked_bytes) - leaked, 1000);
}

TEST(Http2Session, CompletedResponsesAndResetsBeforeAResponseDoNotLeak) {
  exchange h2(leaking_per_reset(1000));
  const auto leaked = metrics::total(metrics::counter::leaked_bytes);
  const auto resets = metrics::total(metrics::counter::h2_streams_reset_by_peer);
  for (int i = 0; i < 5; ++i) h2.get("/bytes/100000");
  const auto stream = h2.get("/stream/300000?chunk=3000");
  h2.pump();
  EXPECT_EQ(h2.response(stream).body.size(), 300'000u);
  // An upload reset before its body ended: nothing was being sent yet.
  const auto upload = h2.post("/upload", testing::pattern_string(0, 3'000'000));
  h2.deliver_client_frames();  // HEADERS and the first 1 MiB window of the body
  h2.cancel(upload);
  h2.pump();
  EXPECT_EQ(metrics::total(metrics::counter::leaked_bytes) - leaked, 0);
  EXPECT_EQ(metrics::total(metrics::counter::h2_streams_reset_by_peer) - resets, 1);
}

TEST(Http2Session, OpenStreamsLeaveTheGaugeHoweverTheyEnd) {
  const auto before = metrics::total(metrics::counter::h2_streams_open);
  exchange h2(with(copy_strategy::writev));
  for (int i = 0; i < 3; ++i) h2.cancel(h2.get("/stream/inf?chunk=1000"), 5000);
  h2.get("/bytes/10");
  h2.post("/upload", "abc");
  h2.pump();
  EXPECT_EQ(metrics::total(metrics::counter::h2_streams_open) - before, 0);
}

// An idle connection holds none of the free blocks its streams left (nghttp2's, the streams'
// states): they went back to the thread's free lists, which stay within their bound however
// many sessions went idle on the thread. Kept by each session, ten streams' worth would be
// about 15 KiB per idle session; what is left (about 3 KiB) is the test client's own record
// of ten streams and the session's stream tables grown to ten.
TEST(Http2Session, IdleSessionsHoldNoFreeBlocks) {
  constexpr int sessions = 200;
  constexpr int streams = 10;
  std::vector<std::unique_ptr<exchange>> idle;
  auto serve = [&](int concurrent) {
    for (auto& h2 : idle) {
      std::vector<std::int32_t> ids;
      for (int i = 0; i < concurrent; ++i) ids.push_back(h2->get("/bytes/10"));
      h2->pump();
      for (const auto id : ids) ASSERT_EQ(h2->response(id).status, "200");
    }
  };
  const auto held_by_sessions = [] {
    return metrics::read_live_heap().live_bytes - static_cast<std::int64_t>(pool::this_thread_kept_bytes());
  };
  for (int i = 0; i < sessions; ++i) idle.push_back(std::make_unique<exchange>(with(copy_strategy::writev)));
  serve(1);  // both sides' HPACK tables now hold the fields these requests use
  const auto before = held_by_sessions();
  serve(streams);
  EXPECT_LE((held_by_sessions() - before) / sessions, streams * 512);
  EXPECT_LE(pool::this_thread_kept_bytes(), pool::kept_bytes_per_thread_max);
}

}  // namespace
}  // namespace memgate::http2
