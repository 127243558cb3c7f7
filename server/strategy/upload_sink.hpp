#pragma once
// Request bodies: `streamed` counts and checksums bytes as they arrive and holds
// nothing; `buffered` collects the whole body first (the 20 MB-upload failure mode).
// Both protocols keep a request's sink from its start until it ends (h1 response done or
// connection gone, h2 stream closed), so --inject-hold-per-stream's block lives here too.
#include "app/fault_injection.hpp"
#include "config/config.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace memgate::strategy {

class upload_sink {
 public:
  upload_sink(request_body_strategy strategy, std::uint64_t max_buffered_bytes, app::held_block hold = {})
      : strategy_(strategy), max_buffered_bytes_(max_buffered_bytes), hold_(std::move(hold)) {}

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
  app::held_block hold_;
};

}  // namespace memgate::strategy
