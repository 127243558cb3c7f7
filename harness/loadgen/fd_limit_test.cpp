#include "fd_limit.hpp"

#include <sys/resource.h>

#include <gtest/gtest.h>

namespace memgate::loadgen {
namespace {

TEST(FdLimit, SoftLimitIsRaisedToTheHardLimit) {
  rlimit before{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &before), 0);
  rlimit lowered = before;
  lowered.rlim_cur = std::min<rlim_t>(before.rlim_max, 256);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);
  const auto soft = raise_open_file_limit();
  rlimit after{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &after), 0);
  EXPECT_EQ(after.rlim_cur, soft);
  if (before.rlim_max != RLIM_INFINITY) {
    EXPECT_EQ(soft, before.rlim_max);
  }
  setrlimit(RLIMIT_NOFILE, &before);
}

TEST(FdLimit, BudgetNamesBothNumbers) {
  EXPECT_EQ(fd_budget_error(10'000, 20'000), std::nullopt);
  EXPECT_EQ(fd_budget_error(20'000 - fd_reserve, 20'000), std::nullopt);
  const auto err = fd_budget_error(20'000, 20'000);
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("--connections 20000"), std::string::npos) << *err;
  EXPECT_NE(err->find("limit is 20000"), std::string::npos) << *err;
}

}  // namespace
}  // namespace memgate::loadgen
