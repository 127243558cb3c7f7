#include "runner.hpp"

#include <poll.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "plan.hpp"
#include "transport.hpp"
#include "worker.hpp"

namespace memgate::loadgen {

namespace asio = boost::asio;

namespace {

// True at EOF (or a read error: nobody can write to us any more), false at the deadline.
bool wait_for_eof(int fd, clock::time_point deadline) {
  std::array<char, 4096> sink{};
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (ready < 0 && errno != EINTR) return true;
    if (ready <= 0) continue;
    const auto n = ::read(fd, sink.data(), sink.size());
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) return true;
  }
}

}  // namespace

run_report run_load(const options& opts, std::ostream* progress, const hold_control& hold) {
  const plan p(opts);

  // Resolve once; an unresolvable host leaves an empty list and every connect fails ("connect").
  asio::ip::tcp::resolver::results_type endpoints;
  {
    asio::io_context ioc;
    asio::ip::tcp::resolver resolver(ioc);
    boost::system::error_code ec;
    endpoints = resolver.resolve(opts.urls.front().host, std::to_string(opts.urls.front().port), ec);
  }

  std::optional<asio::ssl::context> tls;
  if (opts.tls()) tls.emplace(make_tls_context(opts.proto == protocol::h1 ? "http/1.1" : "h2"));

  std::mutex mutex;
  std::condition_variable cv;
  std::size_t settled = 0;
  std::uint64_t held = 0;
  const auto on_settled = [&](std::uint64_t n) {
    const std::lock_guard lock(mutex);
    ++settled;
    held += n;
    cv.notify_all();
  };

  run_control control(opts.requests, opts.rate, clock::now(), opts.hold ? opts.connections : 0);
  const auto deadline = control.start() + std::chrono::duration_cast<clock::duration>(
                                              std::chrono::duration<double>(opts.time_limit_s));
  std::vector<std::unique_ptr<worker>> workers;
  for (std::uint32_t t = 0; t < opts.threads; ++t) {
    const std::uint32_t share = opts.connections / opts.threads + (t < opts.connections % opts.threads ? 1 : 0);
    workers.push_back(std::make_unique<worker>(p, control, tls ? &*tls : nullptr, endpoints, share,
                                               opts.hold ? worker::settled_callback(on_settled) : nullptr));
  }

  std::size_t running = workers.size();
  std::vector<std::thread> threads;
  for (auto& w : workers) {
    threads.emplace_back([&, wp = w.get()] {
      wp->run();
      const std::lock_guard lock(mutex);
      --running;
      cv.notify_all();
    });
  }
  double held_s = 0;
  {
    std::unique_lock lock(mutex);
    bool holding = false;
    const bool report_progress = progress && opts.progress_ms > 0;
    const auto interval = std::chrono::milliseconds(report_progress ? opts.progress_ms : 1000);
    const auto all_settled = [&] { return opts.hold && !holding && settled == workers.size(); };
    for (;;) {
      const bool woke = cv.wait_for(lock, interval, [&] { return running == 0 || all_settled(); });
      if (all_settled()) {
        // Also when every connection ended (HOLDING 0): whoever waits for the line gets it.
        holding = true;
        const auto open = held;
        lock.unlock();
        const auto since = clock::now();
        if (hold.on_holding) hold.on_holding(open);
        // At the deadline the workers stop themselves and report the time limit.
        if (wait_for_eof(hold.release_fd, deadline)) {
          for (auto& w : workers) w->release_held();
        }
        held_s = std::chrono::duration<double>(clock::now() - since).count();
        lock.lock();
        continue;
      }
      if (running == 0) break;
      if (!woke && report_progress) {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - control.start()).count();
        *progress << "progress completed=" << control.completed.load(std::memory_order_relaxed)
                  << " failed=" << control.failed.load(std::memory_order_relaxed) << " elapsed_ms=" << ms << '\n'
                  << std::flush;
      }
    }
  }
  for (auto& t : threads) t.join();

  run_report report;
  report.opts = opts;
  report.elapsed_s = std::chrono::duration<double>(clock::now() - control.start()).count();
  report.held_s = held_s;
  for (const auto& w : workers) report.stats.merge(w->stats());
  if (opts.verify == verify_mode::digest) {
    for (std::size_t i = 0; i < opts.urls.size(); ++i) {
      const auto& d = p.digest_of(i);
      report.digests.push_back({opts.urls[i].target, d.reference(), d.first_mismatch(), d.mismatches()});
    }
  }
  // Closing connections (GOAWAY, waiting for the server's FIN) and holding them are not
  // request time: h2load stops its clock at the last response too.
  report.requests_s = report.stats.last_outcome > control.start()
                          ? std::chrono::duration<double>(report.stats.last_outcome - control.start()).count()
                          : report.elapsed_s;
  return report;
}

}  // namespace memgate::loadgen
