// libFuzzer target: the server's HTTP/2 session (nghttp2 with our callbacks), socket-free.
//
// Input: one control byte, then the bytes a client sends after the connection preface
// (frames: see corpus/ and gen_corpus.py). Control byte bits:
//   bit 0: --copy=buffered (else writev)      bit 1: --no-backpressure
//   bit 2: --request-body=buffered            bits 3-6: receive() chunk size (0: all at once)
//   bit 7: a peer that does not read: the first output batch stays "in flight" (never
//          acknowledged) until the input ends, so what the session owes the peer piles up
//          (the flood defences: receive() returns close_now)
// After each receive() the output is collected and acknowledged as a transport would,
// and posted work runs on the io_context, until the session wants to close.
#include "config/config.hpp"
#include "fuzz/fuzz_config.hpp"
#include "http2/preface.hpp"
#include "http2/session.hpp"
#include "testing/session_services.hpp"

#include <boost/asio/io_context.hpp>

#include <cstdio>
#include <cstdlib>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace {

using namespace memgate;

// Bounds per input so one run stays fast: a peer that opens windows wide could otherwise
// make us generate a gigabyte, or with /stream/N?chunk=1 a DATA frame per byte (that is the
// server's business, not a parsing bug).
constexpr std::size_t max_output_bytes = 4u << 20;
constexpr std::size_t max_output_buffers = 4096;

struct output_seen {
  std::size_t bytes = 0;
  std::size_t buffers = 0;
  bool enough() const { return bytes > max_output_bytes || buffers > max_output_buffers; }
};
constexpr int max_rounds = 10'000;

server_config make_config(std::uint8_t control) {
  server_config config = fuzz::config_from_control(control);
  // The flood defences within reach of small inputs (queued frames stay above the stream limit).
  config.limits.max_concurrent_streams = 32;
  config.limits.h2_max_queued_frames = 64;
  config.limits.h2_max_outbound_acks = 64;
  config.limits.h2_useless_frame_budget = 64;
  config.limits.h2_reset_burst = 64;
  return config;
}

struct harness {
  explicit harness(server_config config) : app(std::move(config), io) {}

  boost::asio::io_context io;
  testing::session_services app;
};

// Collects and "writes" output, runs posted work; false once the session is done.
// With `stalled`, one batch is collected and left in flight (the transport's write pending).
bool drain(http2::session& server, harness& h, output_seen& output, bool stalled = false) {
  for (int round = 0; round < max_rounds; ++round) {
    bool moved = false;
    auto& batch = server.collect_output();
    if (stalled) {
      h.io.poll();
      h.io.restart();
      return !server.finished();
    }
    for (const auto& buffer : batch.buffers()) output.bytes += buffer.size();
    output.buffers += batch.buffers().size();
    if (!batch.empty()) {
      moved = true;
      server.on_batch_written();
    }
    moved = h.io.poll() > 0 || moved;
    h.io.restart();
    if (output.enough()) return false;
    if (!moved) break;
  }
  return !server.finished();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool verbose = std::getenv("MEMGATE_FUZZ_VERBOSE") != nullptr;
  if (size == 0) return 0;
  const std::uint8_t control = data[0];
  const std::span<const std::uint8_t> frames(data + 1, size - 1);

  harness h(make_config(control));
  auto server = std::make_shared<http2::session>(h.app.services, h.app.strategies, h.io.get_executor(), [] {});

  std::vector<std::uint8_t> input(http2::client_preface.begin(), http2::client_preface.end());
  input.insert(input.end(), frames.begin(), frames.end());
  const std::size_t chunk = ((control >> 3) & 15) == 0 ? input.size() : ((control >> 3) & 15);
  const bool stalled = (control & 0x80) != 0;

  output_seen output;
  for (std::size_t offset = 0; offset < input.size();) {
    const std::size_t n = std::min(chunk, input.size() - offset);
    const auto result = server->receive({input.data() + offset, n});
    offset += n;
    if (verbose) std::fprintf(stderr, "h2_session: receive(%zu) -> %d\n", n, int(result));
    if (result == http2::receive_result::close_now) break;
    const bool alive = drain(*server, h, output, stalled);
    if (result == http2::receive_result::flush_then_close || !alive) break;
  }
  // The stalled write completes; then the idle timeout path: GOAWAY, then whatever is left.
  drain(*server, h, output);
  server->end_idle_connection();
  drain(*server, h, output);
  if (verbose) {
    std::fprintf(stderr, "h2_session: %zu input bytes, %zu output bytes, finished=%d\n", input.size(), output.bytes,
                 int(server->finished()));
  }
  server.reset();
  h.io.poll();  // posted work holding weak pointers to the session
  return 0;
}
