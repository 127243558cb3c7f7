#pragma once
// One io_context per thread: a connection lives on the thread that accepted it
// for good, so sessions need no strands or locks.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <memory>
#include <thread>
#include <vector>

namespace memgate::transport {

class worker_pool {
 public:
  explicit worker_pool(unsigned threads);
  ~worker_pool();

  boost::asio::io_context& next();  // round-robin, for the next accepted connection
  std::vector<boost::asio::any_io_executor> executors();
  void start();
  void stop();
  void join();

 private:
  using work_guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<work_guard> guards_;
  std::vector<std::thread> threads_;
  std::size_t next_ = 0;
};

}  // namespace memgate::transport
