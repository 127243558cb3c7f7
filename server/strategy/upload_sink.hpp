#pragma once
// Request bodies: `streamed` counts and checksums bytes as they arrive and holds
// nothing; `buffered` collects the whole body first (the 20 MB-upload failure mode).
#include "config/config.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace memgate::strategy {

class upload_sink {
 public:
  upload_sink(request_body_strategy strategy, std::uint64_t max_buffered_bytes)
      : strategy_(strategy), max_buffered_bytes_(max_buffered_bytes) {}

  // False once a buffered body would exceed its limit: answer 413.
  bool accept(std::span<const std::uint8_t> bytes);

  // {"bytes": n, "crc32": c}, the crc as zlib.crc32 computes it.
  std::string finish_json();

  std::uint64_t bytes_received() const { return bytes_; }

 private:
  request_body_strategy strategy_;
  std::uint64_t max_buffered_bytes_;
  std::uint64_t bytes_ = 0;
  std::uint32_t crc_ = 0;  // zlib's crc32: several times faster than a byte table on uploads
  std::vector<std::uint8_t> held_;
};

}  // namespace memgate::strategy
