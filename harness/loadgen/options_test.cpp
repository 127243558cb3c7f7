#include "options.hpp"

#include <gtest/gtest.h>

namespace memgate::loadgen {
namespace {

boost::system::result<options, option_error> parse(std::vector<std::string> args) {
  args.insert(args.begin(), "loadgen");
  return parse_options(args);
}

// Expects a rejection whose message mentions every one of `needles`.
void expect_rejected(std::vector<std::string> args, std::vector<std::string> needles) {
  const auto r = parse(args);
  ASSERT_FALSE(r) << "accepted: " << testing::PrintToString(args);
  for (const auto& n : needles) {
    EXPECT_NE(r.error().message.find(n), std::string::npos) << "message '" << r.error().message << "' lacks '" << n << "'";
  }
}

TEST(Options, MinimalDefaults) {
  const auto r = parse({"--url", "http://127.0.0.1:8080/bytes/10", "--protocol", "h1", "--requests", "5"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->requests, 5u);
  EXPECT_EQ(r->connections, 1u);
  EXPECT_EQ(r->streams, 1u);
  EXPECT_EQ(r->pipeline, 1u);
  EXPECT_EQ(r->requests_per_connection, 0u);
  EXPECT_EQ(r->method, http_method::get);
  EXPECT_EQ(r->rate, 0.0);
  EXPECT_EQ(r->time_limit_s, 300.0);
  EXPECT_EQ(r->window_bits, 30u);
  EXPECT_EQ(r->threads, 1u);
  EXPECT_EQ(r->cancel_after_bytes, 0u);
  EXPECT_EQ(r->read_rate_bytes_per_s, 0u);
  EXPECT_FALSE(r->hold);
  EXPECT_EQ(r->weights, std::vector<std::uint32_t>{1});
  ASSERT_EQ(r->urls.size(), 1u);
  EXPECT_EQ(r->urls[0].host, "127.0.0.1");
  EXPECT_EQ(r->urls[0].port, 8080);
  EXPECT_EQ(r->urls[0].target, "/bytes/10");
}

TEST(Options, FullSetAndEqualsSyntax) {
  const auto r = parse({"--url", "https://localhost:8443/a", "--url=https://localhost:8443/b?x=1", "--weights", "3,1",
                        "--protocol", "h2-tls", "--requests=100", "--connections", "4", "--streams", "10",
                        "--requests-per-connection", "7", "--method", "POST", "--upload-bytes", "1000", "--rate",
                        "250.5", "--time-limit-s", "2", "--window-bits", "20", "--threads", "2", "--progress-ms",
                        "100", "--insecure"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->proto, protocol::h2_tls);
  EXPECT_EQ(r->weights, (std::vector<std::uint32_t>{3, 1}));
  EXPECT_EQ(r->urls[1].target, "/b?x=1");
  EXPECT_EQ(r->connections, 4u);
  EXPECT_EQ(r->streams, 10u);
  EXPECT_EQ(r->requests_per_connection, 7u);
  EXPECT_EQ(r->method, http_method::post);
  EXPECT_EQ(r->upload_bytes, 1000u);
  EXPECT_DOUBLE_EQ(r->rate, 250.5);
  EXPECT_EQ(r->window_bits, 20u);
  EXPECT_EQ(r->threads, 2u);
  EXPECT_TRUE(r->insecure);
  EXPECT_TRUE(r->tls());
}

TEST(Options, UrlForms) {
  auto u = parse_url("http://[::1]:9000/x");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 9000);
  u = parse_url("https://example.test");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/");
  EXPECT_FALSE(parse_url("ftp://h:1/"));
  EXPECT_FALSE(parse_url("127.0.0.1:80/x"));
  EXPECT_FALSE(parse_url("http://:80/x"));
  EXPECT_FALSE(parse_url("http://h:0/x"));
  EXPECT_FALSE(parse_url("http://h:99999/x"));
  EXPECT_FALSE(parse_url("http://h:8x/x"));
}

const std::vector<std::string> base = {"--url", "http://127.0.0.1:1/bytes/1", "--protocol", "h1", "--requests", "1"};

std::vector<std::string> with(std::vector<std::string> extra, std::vector<std::string> args = base) {
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

TEST(Options, Rejections) {
  expect_rejected({"--protocol", "h1", "--requests", "1"}, {"--url"});
  expect_rejected({"--url", "http://h:1/", "--requests", "1"}, {"--protocol"});
  expect_rejected({"--url", "http://h:1/", "--protocol", "h1"}, {"--requests"});
  expect_rejected({"--url", "http://h:1/", "--protocol", "h3", "--requests", "1"}, {"--protocol", "h3"});
  expect_rejected({"--url", "http://h:1/", "--protocol", "h1", "--requests", "0"}, {"--requests", "'0'"});
  expect_rejected({"--url", "http://h:1/", "--protocol", "h1", "--requests", "-5"}, {"--requests", "-5"});
  expect_rejected({"--url", "http://h:1/", "--protocol", "h1", "--requests", "ten"}, {"--requests", "ten"});
  expect_rejected({"--url", "gopher://h:1/", "--protocol", "h1", "--requests", "1"}, {"--url", "gopher"});
  // Scheme mismatches.
  expect_rejected({"--url", "https://h:1/", "--protocol", "h2c", "--requests", "1"}, {"h2c", "http://"});
  expect_rejected({"--url", "http://h:1/", "--protocol", "h2-tls", "--requests", "1"}, {"h2-tls", "https://"});
  expect_rejected(with({"--url", "http://other:1/"}), {"--url", "share"});
  expect_rejected(with({"--url", "https://127.0.0.1:1/"}), {"--url", "share"});
  // Weights.
  expect_rejected(with({"--weights", "1,2"}), {"--weights", "1,2", "2 weights for 1 URLs"});
  expect_rejected(with({"--weights", "0"}), {"--weights"});
  expect_rejected(with({"--weights", "1,,2"}), {"--weights"});
  expect_rejected(with({"--url", "http://127.0.0.1:1/b", "--weights", "999999,2"}), {"--weights", "sum"});
  // Numbers and enums.
  expect_rejected(with({"--connections", "0"}), {"--connections", "'0'"});
  expect_rejected(with({"--pipeline", "0"}), {"--pipeline"});
  expect_rejected(with({"--method", "PUT"}), {"--method", "PUT"});
  expect_rejected(with({"--rate", "-1"}), {"--rate"});
  expect_rejected(with({"--rate", "fast"}), {"--rate", "fast"});
  expect_rejected(with({"--time-limit-s", "0"}), {"--time-limit-s"});
  expect_rejected(with({"--window-bits", "31"}), {"--window-bits", "31"});
  expect_rejected(with({"--window-bits", "15"}), {"--window-bits", "15"});
  expect_rejected(with({"--threads", "2"}), {"--threads", "more threads than connections"});
  expect_rejected(with({"--upload-bytes", "10"}), {"--upload-bytes", "POST"});
  expect_rejected(with({"--streams", "4"}), {"--streams", "h2"});
  expect_rejected({"--url", "http://h:1/", "--protocol", "h2c", "--requests", "1", "--pipeline", "2"},
                  {"--pipeline", "h1"});
  // Cancel, read rate, hold.
  expect_rejected(with({"--cancel-after-bytes", "0"}), {"--cancel-after-bytes", "'0'"});
  expect_rejected(with({"--read-rate", "0"}), {"--read-rate", "'0'"});
  expect_rejected(with({"--read-rate", "1.5MB"}), {"--read-rate", "1.5MB"});
  expect_rejected(with({"--hold=yes"}), {"--hold", "takes no value"});
  // Syntax.
  expect_rejected(with({"--bogus", "1"}), {"--bogus"});
  expect_rejected(with({"--connections"}), {"missing value", "--connections"});
  expect_rejected(with({"--insecure=yes"}), {"--insecure"});
}

const std::vector<std::string> endless = {"--url", "http://127.0.0.1:1/stream/inf?chunk=4096", "--protocol",
                                          "h2c", "--requests", "4"};

TEST(Options, CancelReadRateAndHold) {
  const auto r = parse(with({"--cancel-after-bytes", "1048576", "--read-rate", "1000000", "--hold", "--connections",
                             "4", "--streams", "8"},
                            endless));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->cancel_after_bytes, 1048576u);
  EXPECT_EQ(r->read_rate_bytes_per_s, 1000000u);
  EXPECT_TRUE(r->hold);
  EXPECT_TRUE(parse(with({"--cancel-after-bytes=1", "--read-rate=1"})));
}

TEST(Options, EndlessResponsesNeedCancel) {
  expect_rejected(endless, {"--url", "/stream/inf", "--cancel-after-bytes", "never completes"});
  // Only a GET of /stream/inf is endless.
  EXPECT_TRUE(parse(with({"--method", "POST"}, endless)));
  EXPECT_TRUE(parse(with({"--url", "http://127.0.0.1:1/stream/1000"})));
}

TEST(Options, H1CancelClosesSoItCannotPipeline) {
  expect_rejected(with({"--cancel-after-bytes", "10", "--pipeline", "2"}),
                  {"--pipeline", "'2'", "--cancel-after-bytes", "closing its connection"});
  EXPECT_TRUE(parse(with({"--cancel-after-bytes", "10", "--pipeline", "1"})));
}

TEST(Options, HoldNeedsARequestPerConnection) {
  expect_rejected(with({"--hold", "--connections", "4", "--requests", "3"}),
                  {"--requests", "'3'", "--hold", "--connections 4"});
  EXPECT_TRUE(parse(with({"--hold", "--connections", "4", "--requests", "4"})));
  expect_rejected(with({"--hold", "--requests-per-connection", "2"}),
                  {"--requests-per-connection", "--hold", "never replaced"});
  expect_rejected(with({"--hold", "--cancel-after-bytes", "100"}), {"--cancel-after-bytes", "--hold", "h2c"});
  EXPECT_TRUE(parse(with({"--hold", "--cancel-after-bytes", "100"}, endless)));
}

TEST(Options, VerifyModes) {
  const auto pattern = parse(with({}));
  ASSERT_TRUE(pattern) << pattern.error().message;
  EXPECT_EQ(pattern->verify, verify_mode::pattern);  // the default
  for (const auto& [text, mode] : {std::pair{"pattern", verify_mode::pattern}, std::pair{"status", verify_mode::status},
                                   std::pair{"digest", verify_mode::digest}}) {
    const auto r = parse(with({std::string("--verify=") + text}));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->verify, mode);
    EXPECT_STREQ(verify_mode_name(mode), text);
  }
  const auto length = parse(with({"--verify", "length", "--url", "http://127.0.0.1:1/b", "--expect-length", "10,0"}));
  ASSERT_TRUE(length) << length.error().message;
  EXPECT_EQ(length->verify, verify_mode::length);
  EXPECT_EQ(length->expect_lengths, (std::vector<std::uint64_t>{10, 0}));
}

TEST(Options, VerifyRejections) {
  expect_rejected(with({"--verify", "crc"}), {"--verify", "'crc'", "pattern, status, length or digest"});
  expect_rejected(with({"--verify", "length"}), {"--verify", "length", "needs --expect-length"});
  expect_rejected(with({"--expect-length", "10"}), {"--expect-length", "'10'", "needs --verify length"});
  expect_rejected(with({"--verify", "digest", "--expect-length", "10"}), {"--expect-length", "--verify length"});
  expect_rejected(with({"--verify", "length", "--expect-length", "10,20"}),
                  {"--expect-length", "10,20", "2 lengths for 1 URLs"});
  expect_rejected(with({"--verify", "length", "--expect-length", "-1"}), {"--expect-length", "'-1'", ">= 0"});
  expect_rejected(with({"--verify", "length", "--expect-length", "1,,2"}), {"--expect-length", "1,,2"});
}

// The path means something only to the refserver: under any other check /stream/inf is an
// ordinary URL that may end.
TEST(Options, OnlyPatternKnowsEndlessPaths) {
  for (const char* mode : {"status", "digest"}) EXPECT_TRUE(parse(with({"--verify", mode}, endless))) << mode;
  EXPECT_TRUE(parse(with({"--verify", "length", "--expect-length", "5"}, endless)));
}

TEST(Options, UsageNamesTheNewOptions) {
  for (const char* name : {"--cancel-after-bytes", "--read-rate", "--hold", "HOLDING", "--verify pattern",
                           "--verify status", "--verify length", "--verify digest", "--expect-length",
                           "no probes"}) {
    EXPECT_NE(usage().find(name), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace memgate::loadgen
