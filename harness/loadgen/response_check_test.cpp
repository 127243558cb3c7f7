#include "response_check.hpp"

#include <string>

#include <boost/crc.hpp>
#include <gtest/gtest.h>

#include "pattern.hpp"

namespace memgate::loadgen {
namespace {

std::string pattern_string(std::uint64_t offset, std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((offset + i) % 251);
  return s;
}

TEST(Pattern, SlicesAtAnyOffset) {
  for (const std::uint64_t off : {0ull, 1ull, 250ull, 251ull, 252ull, 1'000'003ull, (1ull << 40) + 7}) {
    const auto s = pattern_slice(off, pattern_max_slice);
    ASSERT_EQ(s.size(), pattern_max_slice);
    EXPECT_EQ(std::string(s.substr(0, 600)), pattern_string(off, 600)) << off;
    EXPECT_EQ(static_cast<unsigned char>(s.back()), (off + pattern_max_slice - 1) % 251) << off;
  }
}

TEST(Pattern, MatchDetectsAWrongByteAnywhere) {
  const auto good = pattern_string(77, 200'000);  // spans several 64 KiB slices
  EXPECT_TRUE(matches_pattern(77, good));
  EXPECT_FALSE(matches_pattern(78, good));
  for (const std::size_t at : {0ul, 65'535ul, 65'536ul, 199'999ul}) {
    auto bad = good;
    bad[at] ^= 1;
    EXPECT_FALSE(matches_pattern(77, bad)) << at;
  }
}

TEST(Pattern, CrcMatchesBoostOverTheWholeBody) {
  const auto body = pattern_string(0, 300'000);
  boost::crc_32_type crc;
  crc.process_bytes(body.data(), body.size());
  EXPECT_EQ(pattern_crc32(body.size()), crc.checksum());
  EXPECT_EQ(pattern_crc32(0), 0u);
  // zlib.crc32(bytes(i % 251 for i in range(1000))), computed independently.
  EXPECT_EQ(pattern_crc32(1000), 0x721746a6u);
}

TEST(Expectation, FromTargets) {
  using kind = body_expectation::kind;
  EXPECT_EQ(expectation_for("/bytes/65536", false, 0).what, kind::pattern);
  EXPECT_EQ(expectation_for("/bytes/65536", false, 0).length, 65536u);
  EXPECT_EQ(expectation_for("/stream/100?chunk=7", false, 0).length, 100u);
  EXPECT_EQ(expectation_for("/bytes/0", false, 0).what, kind::pattern);
  EXPECT_EQ(expectation_for("/bytes/abc", false, 0).what, kind::any);
  EXPECT_EQ(expectation_for("/bytes/", false, 0).what, kind::any);
  EXPECT_EQ(expectation_for("/json", false, 0).what, kind::any);
  EXPECT_EQ(expectation_for("/stream/inf", false, 0).what, kind::endless);
  EXPECT_EQ(expectation_for("/stream/inf?chunk=1024", false, 0).what, kind::endless);
  EXPECT_EQ(expectation_for("/bytes/inf", false, 0).what, kind::any);  // the server streams only /stream/inf
  EXPECT_EQ(expectation_for("/stream/inf", true, 10).what, kind::any);
  const auto up = expectation_for("/upload?x", true, 1000);
  EXPECT_EQ(up.what, kind::upload);
  EXPECT_EQ(up.length, 1000u);
  EXPECT_EQ(up.crc32, pattern_crc32(1000));
}

std::optional<failure> check_pieces(const body_expectation& e, unsigned status, const std::string& body,
                                    std::size_t piece) {
  response_checker c;
  c.reset(e);
  c.on_status(status);
  for (std::size_t off = 0; off < body.size(); off += piece) c.on_body(std::string_view(body).substr(off, piece));
  return c.finish();
}

TEST(ResponseChecker, PatternBodiesInPieces) {
  const body_expectation e{body_expectation::kind::pattern, 100'000, 0};
  const auto good = pattern_string(0, 100'000);
  for (const std::size_t piece : {1ul, 7ul, 4096ul, 100'000ul}) {
    EXPECT_EQ(check_pieces(e, 200, good, piece), std::nullopt) << piece;
  }
  auto bad = good;
  bad[54'321] = 'x';
  EXPECT_EQ(check_pieces(e, 200, bad, 1000), failure::body);
  EXPECT_EQ(check_pieces(e, 200, good.substr(0, 99'999), 1000), failure::length);
  EXPECT_EQ(check_pieces(e, 200, good + pattern_string(100'000, 1), 1000), failure::length);
  EXPECT_EQ(check_pieces(e, 503, good, 1000), failure::status);
  EXPECT_EQ(check_pieces(e, 199, good, 1000), failure::status);
}

// What --cancel-after-bytes leaves to judge: the bytes that arrived, nothing about the length to come.
std::optional<failure> abandon_after(const body_expectation& e, unsigned status, const std::string& arrived) {
  response_checker c;
  c.reset(e);
  c.on_status(status);
  c.on_body(arrived);
  return c.abandon();
}

TEST(ResponseChecker, EndlessBodiesAreCheckedAsFarAsTheyGo) {
  const auto e = expectation_for("/stream/inf", false, 0);
  const auto good = pattern_string(0, 300'000);
  EXPECT_EQ(abandon_after(e, 200, good), std::nullopt);
  auto bad = good;
  bad[299'999] ^= 1;
  EXPECT_EQ(abandon_after(e, 200, bad), failure::body);
  EXPECT_EQ(abandon_after(e, 404, good), failure::status);
  // An endless response that ends anyway was cut short.
  EXPECT_EQ(check_pieces(e, 200, good, 4096), failure::length);
}

TEST(ResponseChecker, AbandonedFiniteBodies) {
  const body_expectation e{body_expectation::kind::pattern, 100'000, 0};
  EXPECT_EQ(abandon_after(e, 200, pattern_string(0, 10'000)), std::nullopt);
  EXPECT_EQ(abandon_after(e, 200, pattern_string(1, 10'000)), failure::body);
  EXPECT_EQ(abandon_after(e, 200, pattern_string(0, 100'001)), failure::length);
}

TEST(ResponseChecker, ReusedAcrossResponses) {
  response_checker c;
  c.reset({body_expectation::kind::pattern, 3, 0});
  c.on_status(200);
  c.on_body("zzz");
  EXPECT_EQ(c.finish(), failure::body);
  c.reset({body_expectation::kind::pattern, 3, 0});
  c.on_status(200);
  c.on_body(pattern_string(0, 3));
  EXPECT_EQ(c.finish(), std::nullopt);
  EXPECT_EQ(c.body_bytes(), 3u);
}

TEST(ResponseChecker, UploadReceipt) {
  const auto e = expectation_for("/upload", true, 5000);
  const auto good = "{\"bytes\": 5000, \"crc32\": " + std::to_string(pattern_crc32(5000)) + "}";
  EXPECT_EQ(check_pieces(e, 200, good, 3), std::nullopt);
  EXPECT_EQ(check_pieces(e, 200, "{\"bytes\": 4999, \"crc32\": " + std::to_string(pattern_crc32(5000)) + "}", 100),
            failure::upload_check);
  EXPECT_EQ(check_pieces(e, 200, "{\"bytes\": 5000, \"crc32\": " + std::to_string(pattern_crc32(4999)) + "}", 100),
            failure::upload_check);
  EXPECT_EQ(check_pieces(e, 200, "not json", 100), failure::upload_check);
  EXPECT_EQ(check_pieces(e, 200, "{\"bytes\": 5000}", 100), failure::upload_check);
  EXPECT_EQ(check_pieces(e, 200, std::string(response_checker::max_json_bytes + 1, ' '), 512), failure::upload_check);
  EXPECT_EQ(check_pieces(e, 500, good, 100), failure::status);
  EXPECT_TRUE(upload_receipt_matches("{\"crc32\": 1, \"bytes\": 2, \"extra\": true}", 2, 1));
  EXPECT_FALSE(upload_receipt_matches("{\"crc32\": -1, \"bytes\": 2}", 2, 0xffffffffu));
}

TEST(ResponseChecker, AnyBodyOnlyChecksStatus) {
  const body_expectation e{};
  EXPECT_EQ(check_pieces(e, 204, "", 1), std::nullopt);
  EXPECT_EQ(check_pieces(e, 200, "whatever", 3), std::nullopt);
  EXPECT_EQ(check_pieces(e, 404, "", 1), failure::status);
}

TEST(ResponseChecker, ExactLengthWhateverTheBytes) {
  const body_expectation e{body_expectation::kind::exact_length, 1000, 0};
  const std::string body(1000, 'x');  // not the pattern: only the length counts
  for (const std::size_t piece : {1ul, 999ul, 1000ul}) EXPECT_EQ(check_pieces(e, 200, body, piece), std::nullopt);
  EXPECT_EQ(check_pieces(e, 200, body.substr(1), 100), failure::length);
  EXPECT_EQ(check_pieces(e, 200, body + "y", 100), failure::length);
  EXPECT_EQ(check_pieces(e, 404, body, 100), failure::status);
  EXPECT_EQ(check_pieces({body_expectation::kind::exact_length, 0, 0}, 204, "", 1), std::nullopt);
  // Abandoned: too long already is a failure, short is not (the rest never came).
  EXPECT_EQ(abandon_after(e, 200, body.substr(10)), std::nullopt);
  EXPECT_EQ(abandon_after(e, 200, body + "y"), failure::length);
}

TEST(ResponseChecker, DigestHoldsEveryBodyToTheFirst2xxOne) {
  digest_reference ref;
  const body_expectation e{body_expectation::kind::digest, 0, 0, &ref};
  // A failed status sets nothing: the first 2xx body is the reference.
  EXPECT_EQ(check_pieces(e, 500, "an error page", 4), failure::status);
  EXPECT_FALSE(ref.reference());
  const std::string body = "<html>" + std::string(5000, 'a') + "</html>";
  EXPECT_EQ(check_pieces(e, 200, body, 7), std::nullopt);
  EXPECT_EQ(check_pieces(e, 200, body, 4096), std::nullopt);  // split elsewhere, same digest
  auto changed = body;
  changed[2500] = 'b';
  EXPECT_EQ(check_pieces(e, 200, changed, 100), failure::digest);
  EXPECT_EQ(check_pieces(e, 200, body.substr(1), 100), failure::digest);
  EXPECT_EQ(check_pieces(e, 200, body + "!", 100), failure::digest);
  EXPECT_EQ(ref.mismatches(), 3u);
  EXPECT_EQ(ref.reference()->length, body.size());
  EXPECT_EQ(ref.first_mismatch()->length, body.size());
  // A digest needs the whole body: an abandoned one is judged by its status alone.
  EXPECT_EQ(abandon_after(e, 200, "abc"), std::nullopt);
  EXPECT_EQ(abandon_after(e, 503, "abc"), failure::status);
  EXPECT_EQ(ref.mismatches(), 3u);
}

}  // namespace
}  // namespace memgate::loadgen
