// End to end: --read-rate paces each connection's reads.
#include "end_to_end_test.hpp"
#include "runner.hpp"

namespace memgate::loadgen {
namespace {

// Without pacing these runs take milliseconds on loopback.
void expect_paced(const run_report& r, double bytes_per_s, std::uint64_t body_bytes) {
  EXPECT_EQ(r.stats.failed, 0u);
  EXPECT_EQ(r.stats.body_bytes_received, body_bytes);
  // The first bucket (1/20 s worth) is free; everything after waits for tokens.
  const double floor_s = (static_cast<double>(body_bytes) - bytes_per_s / 20) / bytes_per_s;
  EXPECT_GE(r.elapsed_s, floor_s * 0.95);
  EXPECT_LT(r.elapsed_s, floor_s * 3 + 1);
  EXPECT_LE(static_cast<double>(r.stats.bytes_received) / r.elapsed_s, bytes_per_s * 1.1);
}

TEST(EndToEndReadRate, H1ReadsNoFasterThanTheRate) {
  auto server = testing::start_h1_server();
  const auto r = run_load(parse_ok({"--url", url(server, "/bytes/600000"), "--protocol", "h1", "--requests", "1",
                                    "--read-rate", "1000000", "--time-limit-s", "20"}));
  expect_paced(r, 1e6, 600000);
}

TEST(EndToEndReadRate, H2cReadsNoFasterThanTheRate) {
  auto server = testing::start_h2c_server();
  const auto r = run_load(parse_ok({"--url", url(server, "/bytes/300000"), "--protocol", "h2c", "--requests", "2",
                                    "--streams", "2", "--read-rate", "1000000", "--time-limit-s", "20"}));
  expect_paced(r, 1e6, 600000);
}

TEST(EndToEndReadRate, TheRateIsPerConnection) {
  auto server = testing::start_h1_server();
  const auto r = run_load(parse_ok({"--url", url(server, "/bytes/300000"), "--protocol", "h1", "--requests", "2",
                                    "--connections", "2", "--read-rate", "1000000", "--time-limit-s", "20"}));
  expect_paced(r, 2e6, 600000);
}

}  // namespace
}  // namespace memgate::loadgen
