#pragma once
// /json?items=N: the allocation-heavy API-server case. `built` serializes a fresh
// document per request (many small short-lived allocations); `cached` serves one
// built on first use, the usual fix.
#include "config/config.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace memgate::app {

std::string build_json_document(std::size_t items);

class json_documents {
 public:
  explicit json_documents(json_mode mode) : mode_(mode) {}
  std::shared_ptr<const std::string> get(std::size_t items);

 private:
  static constexpr std::size_t max_cached_sizes = 16;
  json_mode mode_;
  std::mutex mutex_;
  std::map<std::size_t, std::shared_ptr<const std::string>> cache_;
};

}  // namespace memgate::app
