#pragma once
// The body pattern every generated body uses: byte at offset i is i % 251.
// One immutable buffer of period + max slice bytes serves any offset as a
// contiguous view, so bodies of any size are views, never copies.
#include <cstddef>
#include <cstdint>
#include <span>

namespace memgate::app {

constexpr std::size_t pattern_period = 251;
constexpr std::size_t max_pattern_slice = 1 << 20;

std::span<const std::uint8_t> pattern_slice(std::uint64_t offset, std::size_t max_length);

}  // namespace memgate::app
