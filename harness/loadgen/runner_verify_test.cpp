// End to end: --verify against bodies that are not the refserver's (test_servers.hpp's /text/N),
// each mode on h1 (pipelined) and h2c (concurrent streams), with weighted mixes of URLs.
#include <boost/json/serialize.hpp>

#include "end_to_end_test.hpp"
#include "runner.hpp"

namespace memgate::loadgen {
namespace {

struct protocol_case {
  const char* name;
  testing_servers (*start)();
  std::vector<std::string> concurrency;
};

std::vector<protocol_case> both_protocols() {
  return {{"h1", [] { return testing::start_h1_server(); }, {"--pipeline", "3", "--connections", "2"}},
          {"h2c", [] { return testing::start_h2c_server(); }, {"--streams", "4", "--connections", "2"}}};
}

run_report run_with(const protocol_case& p, const testing_servers& server, std::vector<std::string> targets,
                    std::vector<std::string> args) {
  std::vector<std::string> argv;
  for (const auto& t : targets) argv.insert(argv.end(), {"--url", url(server, t)});
  argv.insert(argv.end(), {"--protocol", p.name, "--time-limit-s", "20"});
  argv.insert(argv.end(), p.concurrency.begin(), p.concurrency.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return run_load(parse_ok(argv));
}

TEST(Verify, StatusPassesAnyBodyAndFailsNon2xx) {
  for (const auto& p : both_protocols()) {
    const auto server = p.start();
    // A corrupt pattern body and letters pass; only the 503 fails.
    const auto r = run_with(p, server, {"/bytes/5000?corrupt", "/text/3000?chunked", "/status/503"},
                            {"--verify", "status", "--requests", "30"});
    EXPECT_EQ(r.stats.completed, 20u) << p.name;
    EXPECT_EQ(failures_of(r, failure::status), 10u) << p.name;
    EXPECT_EQ(r.stats.failed, 10u) << p.name;
    EXPECT_EQ(r.stats.body_bytes_received, 10u * 5000 + 10u * 3000) << p.name;
    EXPECT_EQ(r.stats.statuses[200], 20u) << p.name;
    EXPECT_EQ(r.stats.statuses[503], 10u) << p.name;
    EXPECT_EQ(boost::json::serialize(to_json(r).at("statuses")), R"({"200":20,"503":10})") << p.name;
    EXPECT_EQ(to_json(r).at("verify"), "status");
  }
}

TEST(Verify, LengthCountsEachUrlsBodyBytes) {
  for (const auto& p : both_protocols()) {
    const auto server = p.start();
    const std::vector<std::string> targets = {"/text/1000?chunked", "/bytes/5000?corrupt", "/bytes/5000?short"};
    // Bytes do not matter, lengths do: the short body fails, the corrupt one passes.
    auto r = run_with(p, server, targets,
                      {"--verify", "length", "--expect-length", "1000,5000,5000", "--weights", "2,1,1", "--requests",
                       "40"});
    EXPECT_EQ(r.stats.completed, 30u) << p.name;
    EXPECT_EQ(failures_of(r, failure::length), 10u) << p.name;
    EXPECT_EQ(failures_of(r, failure::body), 0u) << p.name;
    // Each URL has its own length: one byte off either way fails.
    r = run_with(p, server, targets,
                 {"--verify", "length", "--expect-length", "999,5000,4999", "--weights", "2,1,1", "--requests", "40"});
    EXPECT_EQ(r.stats.completed, 20u) << p.name;
    EXPECT_EQ(failures_of(r, failure::length), 20u) << p.name;
    EXPECT_EQ(boost::json::serialize(to_json(r).at("expect_length")), "[999,5000,4999]");
  }
}

TEST(Verify, DigestHoldsEachUrlToItsFirstBody) {
  for (const auto& p : both_protocols()) {
    const auto server = p.start();
    // Two URLs, two different bodies, two threads: each URL agrees with itself.
    auto r = run_with(p, server, {"/text/1000", "/text/3000?chunked"},
                      {"--verify", "digest", "--weights", "3,1", "--requests", "80", "--threads", "2"});
    EXPECT_EQ(r.stats.completed, 80u) << p.name;
    EXPECT_EQ(r.stats.failed, 0u) << p.name;
    ASSERT_EQ(r.digests.size(), 2u);
    EXPECT_EQ(r.digests[0].reference->length, 1000u);
    EXPECT_EQ(r.digests[1].reference->length, 3000u);
    EXPECT_EQ(r.digests[0].mismatches + r.digests[1].mismatches, 0u);

    // Every second /text/1000?alternate differs by one byte; the 404 sets no reference.
    r = run_with(p, server, {"/text/1000?alternate", "/text/2000", "/status/404"},
                 {"--verify", "digest", "--weights", "2,1,1", "--requests", "40"});
    EXPECT_EQ(failures_of(r, failure::digest), 10u) << p.name;
    EXPECT_EQ(failures_of(r, failure::status), 10u) << p.name;
    EXPECT_EQ(r.stats.completed, 20u) << p.name;
    ASSERT_EQ(r.digests.size(), 3u);
    EXPECT_EQ(r.digests[0].mismatches, 10u);
    EXPECT_EQ(r.digests[0].first_mismatch->length, 1000u);
    EXPECT_NE(r.digests[0].first_mismatch->xxh64, r.digests[0].reference->xxh64);
    EXPECT_EQ(r.digests[1].mismatches, 0u);
    EXPECT_FALSE(r.digests[2].reference);
    const auto report = to_json(r);
    EXPECT_EQ(report.at("verify"), "digest");
    const auto& first = report.at("digests").as_array().at(0).as_object();
    EXPECT_EQ(first.at("target"), "/text/1000?alternate");
    const std::string message(first.at("message").as_string());
    EXPECT_NE(message.find("10 2xx bodies differ from the first one (length 1000, xxh64 "), std::string::npos)
        << message;
    EXPECT_TRUE(report.at("digests").as_array().at(2).as_object().at("reference").is_null());
  }
}

// The receipts differ between the two URLs (one lies about the CRC) but each repeats itself.
TEST(Verify, DigestOfUploadReceipts) {
  for (const auto& p : both_protocols()) {
    const auto server = p.start();
    const auto r = run_with(p, server, {"/upload", "/upload?badcrc"},
                            {"--verify", "digest", "--method", "POST", "--upload-bytes", "100000", "--requests", "12"});
    EXPECT_EQ(r.stats.completed, 12u) << p.name;
    EXPECT_EQ(r.stats.failed, 0u) << p.name;
    EXPECT_NE(r.digests[0].reference, r.digests[1].reference);
  }
}

TEST(Verify, OverTls) {
  const auto h2 = testing::start_tls_server("h2");
  const auto tls_url = [](const testing_servers& s, const char* target) {
    return "https://localhost:" + std::to_string(s->port()) + target;
  };
  auto r = run_load(parse_ok({"--url", tls_url(h2, "/text/5000?alternate"), "--protocol", "h2-tls", "--verify",
                              "digest", "--requests", "20", "--streams", "4", "--time-limit-s", "20"}));
  EXPECT_EQ(failures_of(r, failure::digest), 10u);
  EXPECT_EQ(r.stats.completed, 10u);
  const auto h1 = testing::start_tls_server("http/1.1");
  r = run_load(parse_ok({"--url", tls_url(h1, "/text/5000?chunked"), "--protocol", "h1", "--verify", "length",
                         "--expect-length", "5001", "--requests", "6", "--pipeline", "2", "--time-limit-s", "20"}));
  EXPECT_EQ(failures_of(r, failure::length), 6u);
}

// The default is today's check, named in the report; a cancelled digest response is judged
// by its status.
TEST(Verify, PatternIsTheDefaultAndCancelledDigestsPass) {
  const auto server = testing::start_h2c_server();
  auto r = run_load(parse_ok({"--url", url(server, "/text/100"), "--protocol", "h2c", "--requests", "3"}));
  EXPECT_EQ(r.stats.completed, 3u);
  const auto report = to_json(r);
  EXPECT_EQ(report.at("verify"), "pattern");
  EXPECT_FALSE(report.contains("digests"));
  EXPECT_FALSE(report.contains("expect_length"));
  r = run_load(parse_ok({"--url", url(server, "/text/1000000?alternate"), "--protocol", "h2c", "--verify", "digest",
                         "--cancel-after-bytes", "1000", "--requests", "6", "--time-limit-s", "20"}));
  EXPECT_EQ(r.stats.completed, 6u);
  EXPECT_EQ(r.stats.cancelled, 6u);
  EXPECT_EQ(r.stats.statuses[200], 6u);  // cancelled responses count by the status they had
  EXPECT_FALSE(r.digests[0].reference);
}

}  // namespace
}  // namespace memgate::loadgen
