#pragma once
// What both server fuzz targets read from an input's control byte, and the limits they share.
#include "config/config.hpp"

#include <cstdint>

namespace memgate::fuzz {

// Bits 0-2 of the control byte: bit 0 --copy=buffered (else writev), bit 1 --no-backpressure,
// bit 2 --request-body=buffered. Body limits are smaller than the defaults so one input stays
// fast and the limits are within reach of small inputs; the checks are the same.
inline server_config config_from_control(std::uint8_t control) {
  server_config config;
  config.copy = (control & 1) ? copy_strategy::buffered : copy_strategy::writev;
  config.no_backpressure = (control & 2) != 0;
  config.request_body = (control & 4) ? request_body_strategy::buffered : request_body_strategy::streamed;
  // Above the body pattern's 1 MiB slice, so a body of several slices is in reach.
  config.limits.max_generated_body_bytes = 2u << 20;
  config.limits.max_buffered_body_bytes = 1024;
  // One default 16 KiB chunk fills it, so pausing and resuming are in reach of any stream; a
  // larger cap filled with /stream/N?chunk=1 is a hundred thousand chunks in one turn.
  config.limits.no_backpressure_queue_cap_bytes = 16u << 10;
  return config;
}

}  // namespace memgate::fuzz
