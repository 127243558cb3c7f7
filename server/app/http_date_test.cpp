#include "app/http_date.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace memgate::app {
namespace {

std::string formatted(std::int64_t unix_seconds) {
  std::array<char, http_date_bytes> text{};
  format_http_date(unix_seconds, text);
  return {text.data(), text.size()};
}

TEST(HttpDate, FormatsImfFixdate) {
  EXPECT_EQ(formatted(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");  // RFC 9110 5.6.7's example
  EXPECT_EQ(formatted(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(formatted(951868799), "Tue, 29 Feb 2000 23:59:59 GMT");
  EXPECT_EQ(formatted(2147483648), "Tue, 19 Jan 2038 03:14:08 GMT");  // past 32-bit time_t
  EXPECT_EQ(formatted(4107542400), "Mon, 01 Mar 2100 00:00:00 GMT");  // 2100 is no leap year
}

TEST(HttpDate, CacheFormatsOncePerSecond) {
  http_date_cache cache;
  const auto first = std::string(cache.at(784111777));
  EXPECT_EQ(first, "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(cache.at(784111777), first);
  EXPECT_EQ(cache.refreshes(), 1u);
  EXPECT_EQ(cache.at(784111778), "Sun, 06 Nov 1994 08:49:38 GMT");
  EXPECT_EQ(cache.refreshes(), 2u);
}

TEST(HttpDate, NowIsTheCurrentSecond) {
  using namespace std::chrono;
  const auto before = duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
  const std::string now(http_date_now());
  const auto after = duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
  EXPECT_TRUE(now == formatted(before) || now == formatted(after)) << now;
}

}  // namespace
}  // namespace memgate::app
