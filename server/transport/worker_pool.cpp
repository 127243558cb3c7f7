#include "transport/worker_pool.hpp"

namespace memgate::transport {

worker_pool::worker_pool(unsigned threads) {
  for (unsigned i = 0; i < threads; ++i) {
    contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
    guards_.push_back(boost::asio::make_work_guard(*contexts_.back()));
  }
}

worker_pool::~worker_pool() {
  stop();
  join();
}

boost::asio::io_context& worker_pool::next() {
  auto& context = *contexts_[next_];
  next_ = (next_ + 1) % contexts_.size();
  return context;
}

std::vector<boost::asio::any_io_executor> worker_pool::executors() {
  std::vector<boost::asio::any_io_executor> result;
  for (auto& context : contexts_) result.emplace_back(context->get_executor());
  return result;
}

void worker_pool::start() {
  for (auto& context : contexts_) {
    threads_.emplace_back([&context = *context] { context.run(); });
  }
}

void worker_pool::stop() {
  guards_.clear();
  for (auto& context : contexts_) context->stop();
}

void worker_pool::join() {
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
}

}  // namespace memgate::transport
