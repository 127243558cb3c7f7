#include "transport/open_files.hpp"

#include <gtest/gtest.h>

#include <sys/resource.h>

namespace memgate::transport {
namespace {

TEST(OpenFiles, TheSoftLimitIsRaisedToTheHardLimit) {
  rlimit before{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &before), 0);
  const auto raised = raise_open_file_limit();
  rlimit after{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &after), 0);
  EXPECT_EQ(raised, after.rlim_cur);
  EXPECT_EQ(after.rlim_cur, before.rlim_max);
}

TEST(OpenFiles, AWarningNamesBothNumbersWhenConnectionsCannotAllBeOpen) {
  EXPECT_FALSE(open_file_limit_warning(10'000, 2, 20'000));
  const auto warning = open_file_limit_warning(20'000, 2, 20'000);
  ASSERT_TRUE(warning);
  EXPECT_NE(warning->find("--max-connections=20000"), std::string::npos) << *warning;
  EXPECT_NE(warning->find("allows 20000"), std::string::npos) << *warning;
  EXPECT_NE(warning->find(std::to_string(20'000 + descriptors_besides_connections(2))), std::string::npos) << *warning;
}

}  // namespace
}  // namespace memgate::transport
