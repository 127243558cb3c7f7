#pragma once
// Every limit the server enforces, with its default. Each one is a flag (config.cpp).
#include <cstddef>
#include <cstdint>

namespace memgate {

struct server_limits {
  std::size_t max_header_bytes = 8 * 1024;                      // h1 header section (431 beyond)
  std::size_t max_header_fields = 100;                           // h1 header fields (431 beyond)
  std::uint64_t max_buffered_body_bytes = 64ull << 20;           // --request-body=buffered (413 beyond)
  std::uint64_t max_generated_body_bytes = 1ull << 30;           // /bytes/N and /stream/N with finite N
  std::size_t max_json_items = 100'000;                          // /json?items=N
  std::uint32_t header_read_timeout_ms = 10'000;                 // slowloris bound
  std::uint32_t idle_timeout_ms = 60'000;                        // keep-alive idle
  std::uint32_t send_timeout_ms = 30'000;                        // peer that stops reading
  std::uint32_t max_concurrent_streams = 100;                    // h2 SETTINGS_MAX_CONCURRENT_STREAMS
  std::uint32_t max_header_list_bytes = 64 * 1024;               // h2 SETTINGS_MAX_HEADER_LIST_SIZE
  // Request bodies are consumed as they arrive (or bounded by the buffered limit),
  // so larger receive windows cost no memory and spare uploads a round trip per 64 KiB.
  std::uint32_t h2_stream_window_bytes = 1 << 20;                // SETTINGS_INITIAL_WINDOW_SIZE
  std::uint32_t h2_connection_window_bytes = 16 << 20;
  // nghttp2's own defences, set explicitly rather than trusted to its defaults (each is a flag):
  std::size_t h2_max_outbound_acks = 1000;        // queued SETTINGS/PING ACKs before the peer is cut off
  // Frames of any kind queued while our write is stalled (a peer that makes us answer but
  // does not read); past it the connection is closed at once. Keep it above max_concurrent_streams:
  // a burst of requests queues one response HEADERS each.
  std::size_t h2_max_queued_frames = 1000;
  std::size_t h2_max_settings_entries = 32;       // entries in one SETTINGS frame
  std::size_t h2_max_continuations = 8;           // CONTINUATION frames per header block (CVE-2024-28182)
  std::uint64_t h2_reset_burst = 1000;            // RST_STREAM token bucket (CVE-2023-44487)
  std::uint64_t h2_resets_per_second = 33;
  std::uint64_t h2_max_oversized_header_lists = 8;  // streams reset for their header list, then GOAWAY
  // PRIORITY, empty DATA, early resets, refused streams (then GOAWAY ENHANCE_YOUR_CALM)
  std::uint64_t h2_useless_frame_budget = 1000;
  std::uint64_t max_requests_per_connection = 100'000;  // h1 keep-alive; the response says Connection: close
  std::uint32_t max_connections = 10'000;
  std::uint32_t shutdown_grace_ms = 2'000;                       // SIGTERM: in-flight responses may finish
  std::uint64_t no_backpressure_queue_cap_bytes = 256ull << 20;  // --no-backpressure: per response, so the machine survives
};

}  // namespace memgate
