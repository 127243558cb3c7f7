#pragma once
// The server's strategies, chosen once at start-up from its configuration: how response
// bytes reach the output, how request bodies are taken in, how /stream bodies are made.
// Both protocols call these objects; no protocol reads the switches they come from.
#include "app/router.hpp"
#include "config/config.hpp"
#include "strategy/body_writer.hpp"
#include "strategy/chunk_producer.hpp"
#include "strategy/upload_sink.hpp"

#include <memory>

namespace memgate::strategy {

class strategies {
 public:
  explicit strategies(const server_config& config);

  // The harness's own probes (/mem, /healthz) and error responses go out as views
  // whatever the configuration: bytes_copied stays about measured traffic.
  const body_writer& body_writer_for(bool measured) const { return measured ? measured_bodies_ : probes_; }
  // Upload bodies as configured; any other request body is only counted as it arrives. A
  // measured request's sink also holds --inject-hold-per-stream's block.
  upload_sink upload_sink_for(const app::route& route) const;
  const chunk_producer& chunks() const { return *chunks_; }

 private:
  const body_writer& measured_bodies_;
  const body_writer& probes_;
  request_body_strategy uploads_;
  std::uint64_t max_buffered_body_bytes_;
  std::size_t hold_per_stream_bytes_;
  leak_via hold_via_;
  std::unique_ptr<const chunk_producer> chunks_;
};

}  // namespace memgate::strategy
