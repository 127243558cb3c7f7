#include "pattern.hpp"

#include <array>
#include <cstring>

#include <boost/crc.hpp>

namespace memgate::loadgen {
namespace {

constexpr std::size_t buffer_size = pattern_period + pattern_max_slice;

const std::array<unsigned char, buffer_size>& pattern_buffer() noexcept {
  static const auto buffer = [] {
    std::array<unsigned char, buffer_size> b{};
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<unsigned char>(i % pattern_period);
    return b;
  }();
  return buffer;
}

}  // namespace

std::string_view pattern_slice(std::uint64_t offset, std::size_t len) noexcept {
  if (len > pattern_max_slice) len = pattern_max_slice;
  const auto* base = reinterpret_cast<const char*>(pattern_buffer().data());
  return {base + offset % pattern_period, len};
}

bool matches_pattern(std::uint64_t offset, std::string_view data) noexcept {
  while (!data.empty()) {
    const std::size_t n = data.size() < pattern_max_slice ? data.size() : pattern_max_slice;
    if (std::memcmp(data.data(), pattern_slice(offset, n).data(), n) != 0) return false;
    data.remove_prefix(n);
    offset += n;
  }
  return true;
}

std::uint32_t pattern_crc32(std::uint64_t len) noexcept {
  boost::crc_32_type crc;
  std::uint64_t offset = 0;
  while (offset < len) {
    const auto n = static_cast<std::size_t>(
        len - offset < pattern_max_slice ? len - offset : pattern_max_slice);
    const auto slice = pattern_slice(offset, n);
    crc.process_bytes(slice.data(), slice.size());
    offset += n;
  }
  return crc.checksum();
}

}  // namespace memgate::loadgen
