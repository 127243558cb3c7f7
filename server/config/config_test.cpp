#include "config/config.hpp"

#include <gtest/gtest.h>

namespace memgate {
namespace {

parsed_args parse(std::vector<std::string> args) { return parse_args(args); }

TEST(Config, DefaultsAreTheDocumentedOnes) {
  const auto parsed = parse({});
  ASSERT_TRUE(parsed.config);
  EXPECT_EQ(parsed.config->host, "127.0.0.1");
  EXPECT_EQ(parsed.config->port, 0);
  EXPECT_EQ(parsed.config->copy, copy_strategy::writev);
  EXPECT_EQ(parsed.config->request_body, request_body_strategy::streamed);
  EXPECT_EQ(parsed.config->limits.max_header_bytes, 8u * 1024);
  EXPECT_EQ(parsed.config->limits.max_concurrent_streams, 100u);
  EXPECT_FALSE(parsed.config->tls());
  EXPECT_EQ(parsed.config->inject_leak_via, leak_via::new_operator);
  EXPECT_EQ(parsed.config->inject_copy_bytes, 0u);
  EXPECT_EQ(parsed.config->inject_hold_per_stream_bytes, 0u);
}

TEST(Config, ReadsEverySwitch) {
  const auto parsed = parse({"--port", "8080", "--threads=3", "--copy=buffered", "--request-body=buffered",
                             "--json=cached", "--inject-leak=64", "--no-backpressure", "--max-header-bytes=4096",
                             "--h2-useless-frame-budget=7", "--max-requests-per-connection=3",
                             "--inject-leak-per-connection=128", "--inject-leak-per-reset=256",
                             "--h2-max-queued-frames=77", "--inject-leak-via=malloc", "--inject-copy=512",
                             "--inject-hold-per-stream=4096"});
  ASSERT_TRUE(parsed.config) << parsed.message;
  EXPECT_EQ(parsed.config->port, 8080);
  EXPECT_EQ(parsed.config->threads, 3u);
  EXPECT_EQ(parsed.config->copy, copy_strategy::buffered);
  EXPECT_EQ(parsed.config->request_body, request_body_strategy::buffered);
  EXPECT_EQ(parsed.config->json, json_mode::cached);
  EXPECT_EQ(parsed.config->inject_leak_bytes, 64u);
  EXPECT_TRUE(parsed.config->no_backpressure);
  EXPECT_EQ(parsed.config->limits.max_header_bytes, 4096u);
  EXPECT_EQ(parsed.config->limits.h2_useless_frame_budget, 7u);
  EXPECT_EQ(parsed.config->limits.max_requests_per_connection, 3u);
  EXPECT_EQ(parsed.config->inject_leak_per_connection_bytes, 128u);
  EXPECT_EQ(parsed.config->inject_leak_per_reset_bytes, 256u);
  EXPECT_EQ(parsed.config->limits.h2_max_queued_frames, 77u);
  EXPECT_EQ(parsed.config->inject_leak_via, leak_via::malloc);
  EXPECT_EQ(parsed.config->inject_copy_bytes, 512u);
  EXPECT_EQ(parsed.config->inject_hold_per_stream_bytes, 4096u);
}

TEST(Config, InjectLeakViaNewIsTheDefaultSpelledOut) {
  const auto parsed = parse({"--inject-leak=16", "--inject-leak-via=new"});
  ASSERT_TRUE(parsed.config) << parsed.message;
  EXPECT_EQ(parsed.config->inject_leak_bytes, 16u);
  EXPECT_EQ(parsed.config->inject_leak_via, leak_via::new_operator);
  EXPECT_STREQ(to_string(leak_via::malloc), "malloc");
}

struct rejected_case {
  std::vector<std::string> args;
  std::string mentions;
};

class ConfigRejects : public ::testing::TestWithParam<rejected_case> {};

TEST_P(ConfigRejects, WithExitCode2AndAReason) {
  const auto parsed = parse(GetParam().args);
  EXPECT_FALSE(parsed.config);
  EXPECT_EQ(parsed.exit_code, 2);
  EXPECT_NE(parsed.message.find(GetParam().mentions), std::string::npos) << parsed.message;
}

INSTANTIATE_TEST_SUITE_P(BadFlags, ConfigRejects,
                         ::testing::Values(rejected_case{{"--copy=zero"}, "--copy=zero"},
                                           rejected_case{{"--request-body=maybe"}, "streamed|buffered"},
                                           rejected_case{{"--port=70000"}, "--port=70000"},
                                           rejected_case{{"--threads=0"}, "--threads"},
                                           rejected_case{{"--threads=many"}, "threads"},
                                           rejected_case{{"--tls-cert=a.pem"}, "go together"},
                                           rejected_case{{"--frobnicate"}, "frobnicate"},
                                           rejected_case{{"--max-header-bytes=0"}, "max-header-bytes"},
                                           rejected_case{{"--max-header-bytes=-1"}, "--max-header-bytes=-1"},
                                           rejected_case{{"--idle-timeout-ms=5000000000"}, "idle-timeout-ms"},
                                           rejected_case{{"--h2-reset-burst=0"}, "--h2-reset-burst=0"},
                                           rejected_case{{"--inject-leak-via=mmap"}, "new|malloc"},
                                           rejected_case{{"--inject-copy=lots"}, "inject-copy"}));

TEST(Config, HelpExitsZeroWithTheOptions) {
  const auto parsed = parse({"--help"});
  EXPECT_FALSE(parsed.config);
  EXPECT_EQ(parsed.exit_code, 0);
  EXPECT_NE(parsed.message.find("--copy"), std::string::npos);
}

}  // namespace
}  // namespace memgate
