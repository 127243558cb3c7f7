#include "app/json_documents.hpp"

#include <boost/json.hpp>

namespace memgate::app {

std::string build_json_document(std::size_t items) {
  namespace json = boost::json;
  json::array records;
  records.reserve(items);
  for (std::size_t i = 0; i < items; ++i) {
    const std::string name = "user-" + std::to_string(i);
    records.push_back(json::object{
        {"id", i},
        {"name", name},
        {"email", name + "@example.test"},
        {"active", i % 3 != 0},
        {"score", static_cast<double>(i % 1000) / 7.0},
        {"tags", json::array{"alpha", "beta", i % 2 ? "odd" : "even"}},
        {"address", json::object{{"street", std::to_string(i) + " Main Street"}, {"zip", 10000 + i % 90000}}},
    });
  }
  return json::serialize(json::object{{"count", items}, {"items", std::move(records)}});
}

std::shared_ptr<const std::string> json_documents::get(std::size_t items) {
  if (mode_ == json_mode::built) return std::make_shared<const std::string>(build_json_document(items));
  std::lock_guard lock(mutex_);
  if (auto found = cache_.find(items); found != cache_.end()) return found->second;
  auto document = std::make_shared<const std::string>(build_json_document(items));
  if (cache_.size() < max_cached_sizes) cache_.emplace(items, document);
  return document;
}

}  // namespace memgate::app
