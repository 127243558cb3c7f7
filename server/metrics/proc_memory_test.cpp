#include "metrics/proc_memory.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>

namespace memgate::metrics {
namespace {

constexpr std::string_view rollup =
    "55d0c0000000-7ffd6c1f3000 ---p 00000000 00:00 0                          [rollup]\n"
    "Rss:               12340 kB\n"
    "Pss:               10000 kB\n"
    "Pss_Anon:           2000 kB\n"
    "Anonymous:          2048 kB\n"
    "Swap:                  0 kB\n";

TEST(ProcMemory, ParsesRssAndAnonymousInBytes) {
  const auto parsed = parse_smaps_rollup(rollup);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->rss_bytes, 12340 * 1024);
  EXPECT_EQ(parsed->anonymous_bytes, 2048 * 1024);  // not Pss_Anon
}

TEST(ProcMemory, MissingFieldsAreNotZero) {
  EXPECT_FALSE(parse_smaps_rollup("Rss: 10 kB\n"));
  EXPECT_FALSE(parse_status_kb("VmRSS: 5 kB\n", "VmHWM"));
  EXPECT_EQ(parse_status_kb("Name: x\nVmHWM:\t  77 kB\n", "VmHWM"), 77 * 1024);
}

TEST(ProcMemory, LiveReadingFollowsTouchedMemory) {
  const auto before = read_resident_memory();
  constexpr std::size_t size = 64 << 20;
  auto block = std::make_unique<char[]>(size);
  std::memset(block.get(), 1, size);
  const auto after = read_resident_memory();
  EXPECT_GT(after.rss_bytes - before.rss_bytes, static_cast<std::int64_t>(size / 2));
  EXPECT_GT(after.anonymous_bytes - before.anonymous_bytes, static_cast<std::int64_t>(size / 2));
  EXPECT_GE(read_peak_rss_bytes(), after.rss_bytes);
}

}  // namespace
}  // namespace memgate::metrics
