#include "app/pattern.hpp"
#include "app/response_body.hpp"

#include <gtest/gtest.h>

namespace memgate::app {
namespace {

TEST(Pattern, ByteAtOffsetIsOffsetMod251AtAnyStart) {
  for (std::uint64_t start : {0ull, 1ull, 250ull, 251ull, 1'000'003ull, (1ull << 40) + 7}) {
    const auto slice = pattern_slice(start, 4096);
    ASSERT_EQ(slice.size(), 4096u);
    for (std::size_t i = 0; i < slice.size(); ++i) {
      ASSERT_EQ(slice[i], (start + i) % 251) << "start " << start << " index " << i;
    }
  }
}

TEST(Pattern, SlicesAreViewsOfOneBuffer) {
  EXPECT_EQ(pattern_slice(0, 10).data(), pattern_slice(251, 10).data());
  EXPECT_EQ(pattern_slice(0, max_pattern_slice * 4).size(), max_pattern_slice);
}

TEST(ResponseBody, SlicesStopAtTheEnd) {
  const auto body = response_body::pattern(1000);
  EXPECT_EQ(body.slice(990, 100).size(), 10u);
  EXPECT_TRUE(body.slice(1000, 1).empty());
  const auto text = response_body::text("hello");
  EXPECT_FALSE(text.is_pattern());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(text.slice(1, 3).data()), 3), "ell");
}

}  // namespace
}  // namespace memgate::app
