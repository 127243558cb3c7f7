#include "app/memory_sampler.hpp"

#include "alloc/allocator.hpp"
#include "metrics/counters.hpp"
#include "metrics/live_heap.hpp"
#include "metrics/proc_memory.hpp"

#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <memory>

namespace memgate::app {
namespace {

using metrics::counter;
using metrics::total;

std::string render(const server_config& config, bool trimmed, const metrics::resident_memory& before,
                   const metrics::resident_memory& after) {
  boost::json::object report;
  report["allocator"] = alloc::name();
  report["allocator_version"] = alloc::version();
  report["trimmed"] = trimmed;
  report["rss_before_trim_bytes"] = before.rss_bytes;
  report["rss_anon_before_trim_bytes"] = before.anonymous_bytes;
  report["rss_bytes"] = after.rss_bytes;
  report["rss_anon_bytes"] = after.anonymous_bytes;
  report["vm_hwm_bytes"] = metrics::read_peak_rss_bytes();
  // A binary without the counting core leaves its fields out: zeros would read as measured.
  report["allocation_counters"] = metrics::allocations_counted() ? "counted" : "absent";
  if (metrics::allocations_counted()) {
    const auto heap = metrics::read_live_heap();
    report["live_heap_bytes"] = heap.live_bytes;
    report["allocations"] = heap.allocations;
    report["allocated_bytes"] = heap.allocated_bytes;
    report["deallocations"] = heap.deallocations;
    // The allocations made while each protocol's code ran (metrics/allocation_charge.hpp).
    report["allocations_by_protocol"] = {
        {"h1", {{"allocations", heap.h1.allocations}, {"allocated_bytes", heap.h1.allocated_bytes}}},
        {"h2", {{"allocations", heap.h2.allocations}, {"allocated_bytes", heap.h2.allocated_bytes}}}};
  }
  report["allocator_native"] = alloc::native_stats();
  report["requests"] = {{"h1", total(counter::h1_requests)}, {"h2", total(counter::h2_requests)}};
  const auto accepted = total(counter::connections_accepted);
  report["connections"] = {{"accepted", accepted}, {"open", accepted - total(counter::connections_closed)}};
  report["h2_streams_open"] = total(counter::h2_streams_open);
  report["h2_streams_reset_by_peer"] = total(counter::h2_streams_reset_by_peer);
  report["write_calls"] = total(counter::write_calls);
  report["bytes_written"] = total(counter::bytes_written);
  report["bytes_copied"] = total(counter::bytes_copied);
  report["leaked_bytes"] = total(counter::leaked_bytes);
  report["config"] = {
      {"threads", config.threads},
      {"copy", to_string(config.copy)},
      {"request_body", to_string(config.request_body)},
      {"json", to_string(config.json)},
      {"inject_leak_bytes", config.inject_leak_bytes},
      {"inject_leak_per_connection_bytes", config.inject_leak_per_connection_bytes},
      {"inject_leak_per_reset_bytes", config.inject_leak_per_reset_bytes},
      {"inject_hold_per_stream_bytes", config.inject_hold_per_stream_bytes},
      {"inject_leak_via", to_string(config.inject_leak_via)},
      {"inject_copy_bytes", config.inject_copy_bytes},
      {"backpressure", !config.no_backpressure},
      {"tls", config.tls()},
  };
  return boost::json::serialize(report);
}

}  // namespace

void memory_sampler::sample(bool trim, boost::asio::any_io_executor reply_on, reply done) const {
  const auto before = metrics::read_resident_memory();
  if (!trim) {
    done(render(config_, false, before, before));
    return;
  }
  struct fan_out {
    // A constructor, not aggregate init: make_shared(args...) on an aggregate needs clang 16.
    fan_out(std::size_t workers, reply on_done) : remaining(workers), done(std::move(on_done)) {}
    std::atomic<std::size_t> remaining;
    reply done;
  };
  auto state = std::make_shared<fan_out>(workers_.size(), std::move(done));
  for (const auto& worker : workers_) {
    boost::asio::post(worker, [this, state, before, reply_on] {
      release_thread_caches_();
      alloc::trim_this_thread();
      if (state->remaining.fetch_sub(1) != 1) return;
      alloc::trim_process();
      auto report = render(config_, true, before, metrics::read_resident_memory());
      boost::asio::post(reply_on, [state, report = std::move(report)]() mutable { state->done(std::move(report)); });
    });
  }
}

}  // namespace memgate::app
