#include "app/pattern.hpp"

#include <algorithm>
#include <array>

namespace memgate::app {
namespace {

const std::array<std::uint8_t, pattern_period + max_pattern_slice>& pattern_buffer() {
  static const auto buffer = [] {
    std::array<std::uint8_t, pattern_period + max_pattern_slice> bytes{};
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(i % pattern_period);
    return bytes;
  }();
  return buffer;
}

}  // namespace

std::span<const std::uint8_t> pattern_slice(std::uint64_t offset, std::size_t max_length) {
  const std::size_t start = static_cast<std::size_t>(offset % pattern_period);
  return {pattern_buffer().data() + start, std::min(max_length, max_pattern_slice)};
}

}  // namespace memgate::app
