#include "app/router.hpp"

#include <gtest/gtest.h>

namespace memgate::app {
namespace {

const server_limits limits{};

route expect_route(std::string_view method, std::string_view target) {
  auto classified = classify(method, target, limits);
  if (auto* error = std::get_if<route_error>(&classified)) {
    ADD_FAILURE() << target << " -> " << error->status << " " << error->reason;
    return {};
  }
  return std::get<route>(classified);
}

route_error expect_error(std::string_view method, std::string_view target) {
  auto classified = classify(method, target, limits);
  if (auto* error = std::get_if<route_error>(&classified)) return *error;
  ADD_FAILURE() << target << " was routed";
  return {};
}

TEST(Router, BytesTakesItsLength) {
  const auto r = expect_route("GET", "/bytes/65536");
  EXPECT_EQ(r.kind, endpoint::bytes);
  EXPECT_EQ(r.length, 65536u);
  EXPECT_TRUE(r.counts_as_request());
}

TEST(Router, StreamTakesLengthChunkAndInf) {
  auto r = expect_route("GET", "/stream/1000?chunk=10");
  EXPECT_EQ(r.kind, endpoint::stream);
  EXPECT_EQ(r.length, 1000u);
  EXPECT_EQ(r.chunk_bytes, 10u);
  EXPECT_FALSE(r.infinite);
  r = expect_route("GET", "/stream/inf");
  EXPECT_TRUE(r.infinite);
}

TEST(Router, JsonMemHealthzUpload) {
  EXPECT_EQ(expect_route("GET", "/json?items=7").json_items, 7u);
  const auto mem = expect_route("GET", "/mem?trim=0");
  EXPECT_EQ(mem.kind, endpoint::mem);
  EXPECT_FALSE(mem.trim);
  EXPECT_TRUE(expect_route("GET", "/mem").trim);
  EXPECT_FALSE(mem.counts_as_request());
  EXPECT_FALSE(expect_route("GET", "/healthz").counts_as_request());
  EXPECT_EQ(expect_route("POST", "/upload").kind, endpoint::upload);
}

TEST(Router, RejectsWithStatusAndReason) {
  EXPECT_EQ(expect_error("GET", "/nothing").status, 404u);
  EXPECT_EQ(expect_error("POST", "/bytes/1").status, 405u);
  EXPECT_EQ(expect_error("GET", "/upload").status, 405u);
  EXPECT_EQ(expect_error("GET", "/bytes/12abc").status, 400u);
  EXPECT_EQ(expect_error("GET", "/bytes/").status, 400u);
  EXPECT_EQ(expect_error("GET", "/bytes/99999999999999999999999").status, 400u);
  EXPECT_EQ(expect_error("GET", "/stream/10?chunk=0").status, 400u);
  EXPECT_EQ(expect_error("GET", "/json?items=-1").status, 400u);
  EXPECT_EQ(expect_error("GET", "/mem?trim=yes").status, 400u);
  const auto too_big = expect_error("GET", "/bytes/" + std::to_string(limits.max_generated_body_bytes + 1));
  EXPECT_EQ(too_big.status, 400u);
  EXPECT_NE(too_big.reason.find("exceeds"), std::string::npos);
}

}  // namespace
}  // namespace memgate::app
