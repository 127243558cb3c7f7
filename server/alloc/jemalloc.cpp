#include "alloc/allocator.hpp"

#include <jemalloc/jemalloc.h>

#include <cstdint>
#include <string>

namespace memgate::alloc {
namespace {

std::size_t read_size_stat(const char* key) {
  std::size_t value = 0;
  std::size_t len = sizeof(value);
  if (mallctl(key, &value, &len, nullptr, 0) != 0) return 0;
  return value;
}

// jemalloc's stats are a snapshot refreshed only when "epoch" is written.
void refresh_stats() {
  std::uint64_t epoch = 1;
  std::size_t len = sizeof(epoch);
  mallctl("epoch", &epoch, &len, &epoch, len);
}

}  // namespace

std::string_view name() { return "jemalloc"; }

std::string version() {
  const char* text = nullptr;
  std::size_t len = sizeof(text);
  if (mallctl("version", &text, &len, nullptr, 0) != 0 || text == nullptr) return "unknown";
  return text;
}

void trim_this_thread() { mallctl("thread.tcache.flush", nullptr, nullptr, nullptr, 0); }

void trim_process() {
  mallctl("thread.tcache.flush", nullptr, nullptr, nullptr, 0);
  const std::string purge_all = "arena." + std::to_string(MALLCTL_ARENAS_ALL) + ".purge";
  mallctl(purge_all.c_str(), nullptr, nullptr, nullptr, 0);
}

boost::json::object native_stats() {
  refresh_stats();
  boost::json::object stats;
  stats["allocated_bytes"] = read_size_stat("stats.allocated");
  stats["active_bytes"] = read_size_stat("stats.active");
  stats["metadata_bytes"] = read_size_stat("stats.metadata");
  stats["resident_bytes"] = read_size_stat("stats.resident");
  stats["mapped_bytes"] = read_size_stat("stats.mapped");
  stats["retained_bytes"] = read_size_stat("stats.retained");
  return stats;
}

}  // namespace memgate::alloc
