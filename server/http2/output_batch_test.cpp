#include "http2/output_batch.hpp"

#include <gtest/gtest.h>

#include <string>

namespace memgate::http2 {
namespace {

std::string flatten(output_batch& batch) {
  std::string out;
  for (const auto& buffer : batch.buffers()) out.append(static_cast<const char*>(buffer.data()), buffer.size());
  return out;
}

std::span<const std::uint8_t> bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

TEST(OutputBatch, KeepsOrderAndMergesNeighbours) {
  const std::string body = "0123456789";
  output_batch batch;
  batch.stage(bytes("AB"));
  batch.stage(bytes("CD"));                           // merges with the staged run
  batch.view(bytes(std::string_view(body).substr(0, 4)), nullptr);
  batch.view(bytes(std::string_view(body).substr(4, 6)), nullptr);  // contiguous: one iovec
  batch.stage(bytes("EF"));
  EXPECT_EQ(flatten(batch), "ABCD0123456789EF");
  EXPECT_EQ(batch.buffers().size(), 3u);
  EXPECT_EQ(batch.size(), 16u);
}

TEST(OutputBatch, ViewsAreNotCopies) {
  const std::string body(1000, 'x');
  output_batch batch;
  batch.view(bytes(body), nullptr);
  EXPECT_EQ(batch.buffers().front().data(), body.data());
}

TEST(OutputBatch, HoldsOwnersUntilCleared) {
  auto owner = std::make_shared<std::string>("owned");
  output_batch batch;
  batch.view(bytes(*owner), owner);
  std::weak_ptr<std::string> watch = owner;
  owner.reset();
  EXPECT_FALSE(watch.expired());
  EXPECT_EQ(flatten(batch), "owned");
  batch.clear();
  EXPECT_TRUE(watch.expired());
  EXPECT_TRUE(batch.empty());
}

}  // namespace
}  // namespace memgate::http2
