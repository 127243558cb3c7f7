#include "runner.hpp"

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

run_report run_load(const options& opts, std::ostream* progress) {
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

  run_control control(opts.requests, opts.rate, clock::now());
  std::vector<std::unique_ptr<worker>> workers;
  for (std::uint32_t t = 0; t < opts.threads; ++t) {
    const std::uint32_t share = opts.connections / opts.threads + (t < opts.connections % opts.threads ? 1 : 0);
    workers.push_back(std::make_unique<worker>(p, control, tls ? &*tls : nullptr, endpoints, share));
  }

  std::mutex mutex;
  std::condition_variable cv;
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
  {
    std::unique_lock lock(mutex);
    const bool report_progress = progress && opts.progress_ms > 0;
    const auto interval = std::chrono::milliseconds(report_progress ? opts.progress_ms : 1000);
    while (running > 0) {
      if (cv.wait_for(lock, interval, [&] { return running == 0; })) break;
      if (report_progress) {
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
  for (const auto& w : workers) report.stats.merge(w->stats());
  return report;
}

}  // namespace memgate::loadgen
