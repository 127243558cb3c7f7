#pragma once
// Part of a response as its protocol frames it: framing bytes around a range of body
// bytes. Both the body writers and the chunk producer take pieces, so neither knows
// whether the framing is an HTTP/1.1 header and chunk line or an HTTP/2 frame header.
#include "app/response_body.hpp"

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace memgate::strategy {

using bytes_view = std::span<const std::uint8_t>;

inline bytes_view as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

struct body_piece {
  std::array<bytes_view, 2> before{};  // status line and headers, chunk line, frame header
  const app::response_body& body;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  bytes_view after{};  // the chunk's closing CRLF

  std::size_t framing_bytes() const { return before[0].size() + before[1].size() + after.size(); }
  std::size_t size() const { return framing_bytes() + static_cast<std::size_t>(length); }
};

}  // namespace memgate::strategy
