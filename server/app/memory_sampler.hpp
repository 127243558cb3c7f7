#pragma once
// GET /mem: forced trim on every worker thread (our caches, then the allocator's), then
// process-wide, then a sample.
#include "config/config.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <functional>
#include <string>
#include <vector>

namespace memgate::app {

class memory_sampler {
 public:
  using reply = std::function<void(std::string json)>;

  // `release_thread_caches` frees what the layers above keep per thread (free lists, read
  // buffers); it runs on each worker before the allocator's own per-thread trim.
  memory_sampler(const server_config& config, std::vector<boost::asio::any_io_executor> workers,
                 std::function<void()> release_thread_caches)
      : config_(config), workers_(std::move(workers)), release_thread_caches_(std::move(release_thread_caches)) {}

  // Never blocks the calling thread: the trim fans out to the workers (this one
  // included) and `done` runs on `reply_on` once the sample is taken.
  void sample(bool trim, boost::asio::any_io_executor reply_on, reply done) const;

 private:
  const server_config& config_;
  std::vector<boost::asio::any_io_executor> workers_;
  std::function<void()> release_thread_caches_;
};

}  // namespace memgate::app
