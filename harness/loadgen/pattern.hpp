// The memgate body pattern: byte at offset i is i % 251 (docs/ARCHITECTURE.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace memgate::loadgen {

inline constexpr std::size_t pattern_period = 251;
// Any slice of up to this many bytes, starting at any offset, is contiguous in the buffer.
inline constexpr std::size_t pattern_max_slice = 64 * 1024;

// A view of `len` (<= pattern_max_slice) pattern bytes as they appear at body offset `offset`.
std::string_view pattern_slice(std::uint64_t offset, std::size_t len) noexcept;

// True when `data` equals the pattern at body offset `offset`; compares with memcmp in slices.
bool matches_pattern(std::uint64_t offset, std::string_view data) noexcept;

// CRC-32 (zlib-compatible) of the first `len` bytes of the pattern.
std::uint32_t pattern_crc32(std::uint64_t len) noexcept;

}  // namespace memgate::loadgen
