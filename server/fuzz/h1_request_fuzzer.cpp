// libFuzzer target: the server's HTTP/1.1 session (http1::session, the code the server
// runs) in memory, pipelining included: the harness plays the transport adapter.
//
// Input: one control byte, then what the client sends; after the last byte the client
// closes its sending side, and it reads (and discards) everything the session writes.
// Control byte bits:
//   bit 0: --copy=buffered (else writev)      bit 1: --no-backpressure
//   bit 2: --request-body=buffered            bits 3-7: hand the input over in reads of this size
// The client hangs up after 4 MiB or 128 writes (a write failure, as a client that got enough
// of /stream/inf causes; without the count, /stream/N?chunk=1 is a million writes). A session
// that neither writes, nor wants input, nor has work pending, nor ends the connection is
// stuck: reported as a crash.
// Nothing the harness does can fail or be interrupted (no socket): an exception is the
// session's, and libFuzzer reports it with its input.
#include "fuzz/fuzz_config.hpp"
#include "http1/session.hpp"
#include "testing/session_services.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>

namespace {

using namespace memgate;
namespace net = boost::asio;

// Past either the client hangs up, as a client that got enough of /stream/inf would. Room for
// the largest generated body, and for a --no-backpressure stream to fill its queue cap and resume.
constexpr std::uint64_t max_received_bytes = 4u << 20;
constexpr int max_writes = 128;

server_config make_config(std::uint8_t control) {
  server_config config = fuzz::config_from_control(control);
  // The header limits and the keep-alive limit within reach of small inputs (ci/fuzz.sh's -max_len).
  config.limits.max_header_bytes = 1024;
  config.limits.max_header_fields = 16;
  config.limits.max_requests_per_connection = 8;
  return config;
}

// The transport's side: holds the session as http1::connection does.
struct memory_transport final : http1::session_owner, std::enable_shared_from_this<memory_transport> {
  memory_transport(testing::session_services& app, net::io_context& io)
      : session(app.services, app.strategies, io.get_executor(), *this, boost::beast::flat_buffer{}) {}

  void wake() override {}  // the loop below collects after every handler it runs
  std::shared_ptr<http1::session> hold() override { return {shared_from_this(), &session}; }

  http1::session session;
};

[[noreturn]] void stuck(const char* why) {
  std::fprintf(stderr, "h1_request: the session is stuck: %s\n", why);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool verbose = std::getenv("MEMGATE_FUZZ_VERBOSE") != nullptr;
  if (size == 0) return 0;
  static net::io_context* io = new net::io_context;  // lives for the process
  const std::uint8_t control = data[0];
  const std::span<const std::uint8_t> input(data + 1, size - 1);
  const std::size_t piece = (control >> 3) == 0 ? input.size() + 1 : (control >> 3);

  testing::session_services app(make_config(control), *io);
  auto transport = std::make_shared<memory_transport>(app, *io);
  auto& session = transport->session;
  std::size_t fed = 0;
  bool input_ended = false;
  std::uint64_t received = 0;
  int writes = 0;
  session.start();
  // The order of http1::connection::pump(): the session may end the connection while
  // collect_output() finds nothing more (an HTTP/1.0 /stream ends with the close).
  for (;;) {
    const auto output = session.collect_output();
    if (!output.empty()) {
      received += net::buffer_size(output);
      if (received > max_received_bytes || ++writes > max_writes) {
        session.on_output_failed(false);
      } else {
        session.on_output_written();
      }
      continue;
    }
    if (session.end() != http1::session_end::open) break;
    if (session.wants_input()) {
      (void)session.take_read_deadline_ms();
      if (fed < input.size()) {
        // As the connection reads: into the session's buffer while it holds part of a request,
        // else handed over from where it was read.
        const std::size_t n = std::min(piece, input.size() - fed);
        if (!session.holds_input()) {
          session.on_input(input.subspan(fed, n));
          fed += n;
          continue;
        }
        const auto space = session.input_space();
        const std::size_t copied = std::min(n, space.size());
        std::memcpy(space.data(), input.data() + fed, copied);
        fed += copied;
        session.on_input(copied);
        continue;
      }
      if (input_ended) stuck("it wants input after the client's end of input");
      input_ended = true;
      session.on_input_end();
      continue;
    }
    // One handler at a time, as an event loop interleaves them with the transport's writes.
    io->restart();
    if (io->poll_one() == 0) stuck("no output, no input wanted, no work pending");
  }
  if (verbose) {
    std::fprintf(stderr, "h1_request: %zu bytes fed, %llu received, end %s\n", fed,
                 static_cast<unsigned long long>(received),
                 session.end() == http1::session_end::graceful ? "graceful" : "abort");
  }
  transport.reset();
  io->restart();
  io->poll();  // posted work that outlived the connection
  return 0;
}
