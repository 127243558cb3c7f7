#include "strategy/strategies.hpp"

namespace memgate::strategy {

strategies::strategies(const server_config& config)
    : measured_bodies_(strategy::body_writer_for(config.copy)),
      probes_(strategy::body_writer_for(copy_strategy::writev)),
      uploads_(config.request_body),
      max_buffered_body_bytes_(config.limits.max_buffered_body_bytes),
      hold_per_stream_bytes_(config.inject_hold_per_stream_bytes),
      hold_via_(config.inject_leak_via),
      chunks_(make_chunk_producer(!config.no_backpressure, config.limits.no_backpressure_queue_cap_bytes)) {}

upload_sink strategies::upload_sink_for(const app::route& route) const {
  return {route.kind == app::endpoint::upload ? uploads_ : request_body_strategy::streamed, max_buffered_body_bytes_,
          app::held_block(route.counts_as_request() ? hold_per_stream_bytes_ : 0, hold_via_)};
}

}  // namespace memgate::strategy
